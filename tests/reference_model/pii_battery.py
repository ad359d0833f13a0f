"""A PII battery: real-format items (fake values in the published formats) and look-alikes.

Values are generated from a seeded RNG at import, so no key-shaped string is committed. Each real
item is ``(text, kind, value)``: masking must remove ``value`` and put the kind's mask in. Each
look-alike is a text that holds no PII and must come out unchanged. ``bench/pii_compare.py`` runs
the same battery through libraries (phonenumbers, detect-secrets) as a cross-check.
"""
from __future__ import annotations

import random
import string

_rng = random.Random()
B62 = string.ascii_letters + string.digits


def _r(n: int, alphabet: str = B62) -> str:
    while True:  # random keys have a digit; a rare all-letter draw is redrawn so the item stays realistic
        s = "".join(_rng.choice(alphabet) for _ in range(n))
        if any(c.isdigit() for c in s) or not any(c.isdigit() for c in alphabet):
            return s


def _hex(n: int) -> str:
    return _r(n, "0123456789abcdef")


PHONES = [
    "+49 30 901820", "+49 (0)30 9018 2000", "+49 171 2345678", "0049 89 12345678", "+33 1 42 68 53 00",
    "+33 6 12 34 56 78", "0033 1 42 68 53 00", "+91 98765 43210", "+91-22-2657-1234", "+81 3-1234-5678",
    "+81 90 1234 5678", "+55 11 91234-5678", "+55 (21) 2345-6789", "+44 20 7946 0958", "+44 (0)20 7946 0958",
    "+44 7700 900123", "+1 (415) 555-0132", "+1 415-555-0132", "+1 415 555 0132", "+1.415.555.0132",
    "+86 10 6552 9988", "+86 138 0013 8000", "+7 495 123-45-67", "+61 2 9374 4000", "+34 912 34 56 78",
    "+39 06 6982 1234", "+31 20 123 4567", "+46 8 123 456 78", "+41 44 668 18 00", "+27 21 123 4567",
    "+52 55 1234 5678", "+82 2-312-3456", "+65 6123 4567", "+971 4 123 4567", "+4930901820",
    "(415) 555-0132", "415-555-0132", "415.555.0132", "1-800-555-0199", "020 7946 0958",
    "030 901820", "01 42 68 53 00", "06 12 34 56 78", "(030) 12345678", "0171 2345678",
]
PHONE_CONTEXTS = ["Call me at {} tomorrow.", "Tel: {}", "Phone: {} (office hours 9-17)", "Contact Anna on {}.",
                  "| Berlin office | {} |", "Fax {} or mail us.", "Reach the hotline at {}", "mobile={}"]

IPV4 = ["192.168.10.254", "10.0.0.1", "172.16.254.3", "8.8.8.8", "203.0.113.77", "127.0.0.1", "198.51.100.23",
        "100.64.12.9", "1.1.1.1", "52.14.201.7"]
IPV6 = ["::1", "2001:db8::1", "fe80::1%eth0", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "fe80:0:0:0:202:b3ff:fe1e:8329",
        "2606:4700:4700::1111", "::ffff:192.0.2.128", "2001:db8:0:1::42", "fd12:3456:789a:1::1", "2001:db8::"]
IP_CONTEXTS = ["The server at {} is down.", "ssh admin@{}", "listen {};", "curl http://{}:8080/health",
               "Failed login from {} at 03:12", "host = \"{}\""]
IPV6_CONTEXTS = ["The server at {} is down.", "ping6 {}", "curl http://[{}]:8080/health", "bind-address {}",
                 "Failed login from {} at 03:12"]

EMAILS = ["jane.doe+news@example.co.uk", "j.smith@company.com", "admin@mail.example.org", "first_last@uni-hamburg.de",
          "x7@tiny.io", "Support.Team@Example.COM", "m\u00fcller@example.de".replace("\u00fc", "ue"),
          "ops-alerts@status.example.net", "a.b.c@d-e.f.example.jp", "noreply@github.com"]
EMAIL_CONTEXTS = ["Contact {} for details.", "From: Jane <{}>", "mailto:{}", "\"email\": \"{}\"", "cc {}, thanks"]


def _keys() -> list[tuple[str, str]]:
    """(context with {}, key) pairs in the formats providers publish."""
    return [
        ("export OPENAI_API_KEY={}", "sk-proj-" + _r(48)),
        ("openai.api_key = \"{}\"", "sk-" + _r(48)),
        ("ANTHROPIC_API_KEY={}", "sk-ant-api03-" + _r(93)),
        ("aws_access_key_id = {}", "AKIA" + _r(16, string.ascii_uppercase + string.digits)),
        ("temporary creds {} expire soon", "ASIA" + _r(16, string.ascii_uppercase + string.digits)),
        ("aws_secret_access_key = {}", _r(40, B62 + "/+")),
        ("token: {}", "ghp_" + _r(36)),
        ("git clone https://{}@github.com/org/repo", "gho_" + _r(36)),
        ("GITHUB_TOKEN={}", "github_pat_" + _r(22) + "_" + _r(59)),
        ("PRIVATE-TOKEN: {}", "glpat-" + _r(20)),
        ("slack bot {}", "xoxb-" + "-".join([_r(12, string.digits), _r(13, string.digits), _r(24)])),
        ("webhook: {}", "https://hooks.slack.com/services/T" + _r(8, string.ascii_uppercase + string.digits)
         + "/B" + _r(10, string.ascii_uppercase + string.digits) + "/" + _r(24)),
        ("Stripe.api_key = '{}'", "sk_live_" + _r(24)),
        ("STRIPE_SECRET_KEY={}", "sk_test_" + _r(99)),
        ("restricted key {}", "rk_live_" + _r(24)),
        ("endpoint secret {}", "whsec_" + _r(32)),
        ("maps key={}", "AIza" + _r(35, B62 + "_-")),
        ("client_secret: {}", "GOCSPX-" + _r(28)),
        ("Authorization: Bearer {}", "ya29." + _r(60, B62 + "_-")),
        ("HF_TOKEN={}", "hf_" + _r(34)),
        ("huggingface-cli login --token {}", "hf_" + _r(34)),
        ("twilio sid {}", "AC" + _hex(32)),
        ("SENDGRID_API_KEY={}", "SG." + _r(22) + "." + _r(43)),
        ("mailgun {}", "key-" + _hex(32)),
        ("//registry.npmjs.org/:_authToken={}", "npm_" + _r(36)),
        ("password = {}", "pypi-AgEIcHlwaS5vcmc" + _r(60)),
        ("X-Shopify-Access-Token: {}", "shpat_" + _hex(32)),
        ("DIGITALOCEAN_TOKEN={}", "dop_v1_" + _hex(64)),
        ("databricks token {}", "dapi" + _hex(32)),
        ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={};EndpointSuffix=core.windows.net",
         _r(86, B62 + "+/") + "=="),
        ("Authorization: Bearer {}", "eyJ" + _r(30) + ".eyJ" + _r(60) + "." + _r(43)),
        ("bot token {}", _r(10, string.digits) + ":AA" + _r(33, B62 + "_-")),
        ('config = {{"api_key": "{}"}}', _r(20)),
        ("DB_PASSWORD={}", "T7x!" + _r(12)),
        ("password: \"{}\"", "hunter2-" + _r(10)),
        ("secret_key = '{}'", "django-insecure-" + _r(30, B62 + "!@#$%^&*(-_=+)")),
        ("api-key: {}", _hex(32)),
        ("x-api-key: {}", _r(40)),
    ]


def real_items() -> list[tuple[str, str, str]]:
    _rng.seed(20261127)  # every call returns the same battery
    items: list[tuple[str, str, str]] = []
    for i, p in enumerate(PHONES):
        items.append((PHONE_CONTEXTS[i % len(PHONE_CONTEXTS)].format(p), "phone", p))
    for i, ip in enumerate(IPV4):
        items.append((IP_CONTEXTS[i % len(IP_CONTEXTS)].format(ip), "ip", ip))
    for i, ip in enumerate(IPV6):
        items.append((IPV6_CONTEXTS[i % len(IPV6_CONTEXTS)].format(ip), "ip", ip))
    for i, e in enumerate(EMAILS):
        items.append((EMAIL_CONTEXTS[i % len(EMAIL_CONTEXTS)].format(e), "email", e))
    items += [(ctx.format(key), "api_key", key) for ctx, key in _keys()]
    return items


def _sha() -> str:
    return _hex(40)


def look_alikes() -> list[str]:
    _rng.seed(20261128)
    return [
        # versions, OIDs, section numbers (IPv4-shaped)
        "Upgrade to version 1.2.3.4 before Friday.", "Requires numpy==1.26.4.1 or later.", "Release v2.0.1.3 is out.",
        "Windows build 10.0.19041.1 ships it.", "The OID 2.5.4.3 is commonName.", "OID 1.3.6.1.4.1.311.21.8 marks it.",
        "See section 4.2.1.3 for details.", "Python 3.11.7.1 was never released.", "As in RFC 1.2.3.4 (not real).",
        "Firmware 4.19.0.2 fixes the bug.", "pip install package==0.10.1.2", "Clause 12.3.4.5 applies.",
        "1.3.6.1.2.1.1.5.0 is sysName in SNMP.", "Table 2.1.1.4 lists the values.", "node v18.17.1.0 crashed",
        # dates and times
        "The meeting is on 2023-10-02 at 10:30.", "Born 02/10/1987 in Lyon.", "Deadline: 10.02.2023.",
        "Logged at 2023-10-02T12:30:45Z.", "From 2019/05/17 to 2019/06/01.", "Opening hours 09:00-17:30 daily.",
        "Timestamp 12:30:45.123 in the log.", "Q3 2023-07-01 to 2023-09-30.",
        # number lists, grouped numbers, maths
        "The population was 12 345 678 in 2020.", "They raised 1 000 000 dollars.",
        "Census years 1999 2000 2001 2002 were used.", "Seasons 1999, 2000, 2001 and 2002.",
        "Scores: 12 34 56 78 90.", "Ana has 12 + 345 = 357 apples.", "The answer is 1234567.",
        "Pi is about 3.14159 and e about 2.71828.", "Invoice 2023-000123-45 is paid.",
        "ISBN 978-3-16-148410-0 is on the back.", "ISBN 0-306-40615-2.", "Part no. 123-456-789 fits.",
        "Total: 4 200 000 000 tokens.", "Ranges 100-200, 300-400 and 500-600.", "Matrix [[1, 2], [3, 4]].",
        "Primes 2 3 5 7 11 13 17 19 23 29.", "Coordinates 48.8566, 2.3522.", "Order #100234567 shipped.",
        "The sum 123 456 789 is large.", "1.000.000 Einwohner.", "Zip code 90210 and 10115.",
        "It took 3 - 4 - 5 minutes.", "Years 1914-1918 and 1939-1945.", "Step 1 2 3 4 5 6 7 8 9 10.",
        "Between 1 and 10 000 000 rows.", "Seed 123456789 gives the same run.", "Loss 0.519 after 900 steps.",
        # code identifiers that look like secrets or addresses
        "password = get_password_from_environment()", "token = tokenizer.encode(text)",
        "api_key = os.environ[\"OPENAI_API_KEY\"]", "secret_name = \"DB_PASSWORD\"", "api_key: ${OPENAI_API_KEY}",
        "password: <your-password-here>", "token_budget = 4096", "API_KEY = \"YOUR_API_KEY\"",
        "access_key = settings.AWS_ACCESS_KEY_ID", "password_hash = hash_password(raw_password)",
        "secret = load_secret(name)", "token_ids = tokens[0:512]", "auth_token = request.headers.get('Authorization')",
        "password = \"********\"", "api_key = None", "secret: {{ vault.secret_key }}", "token = next(token_stream)",
        "set_password(user, new_password)", "The tokenizer_config has pad_token = eos_token.",
        "passwords_match = password == confirm_password", "refresh_token_expiry_seconds = 3600",
        "std::vector<int> v; std::map<K, V> m;", "auto it = Foo::bar::baz();", "xs[::2] and xs[1::3] and xs[::-1]",
        "Haskell: add :: Int -> Int -> Int", "a = b ? c : d :: e", "url = f\"https://{host}:{port}/\"",
        "MAC 00:1a:2b:3c:4d:5e on eth0", "Run at 12:30:45 every day.", "Ratio 16:9 or 4:3:2.",
        "self.secret_key_name = 'SECRET_KEY'", "TOKEN_LIMIT = MAX_TOKENS - used_tokens",
        "tokenizer_name = \"bert_base_v2\"", "token_count = 12345678",
        # hashes and ids that are not secrets
        f"commit {_sha()} fixed it", f"\"sha256\": \"{_hex(64)}\"", "request id 550e8400-e29b-41d4-a716-446655440000",
        f"md5 {_hex(32)} matches", f"docker image sha256:{_hex(64)}", "uuid = 123e4567-e89b-12d3-a456-426614174000",
        "sk-learn is a typo for scikit-learn", "The key-value store holds key-values-and-more-values.",
        "Use gh pr create and glab mr create.", "The AKIA prefix marks AWS keys.", "xoxb tokens are Slack bot tokens.",
        "hf_hub_download(repo_id, filename)", "sk_live is the prefix of live Stripe keys.",
        # e-mail look-alikes
        "Retina icons: icon@2x.png and logo@3x.webp.", "Use the @property decorator.", "ssh user@localhost",
        "npm install @types/node@20.1.0", "Mention @jane-doe in the PR.", "pip install foo@git+ssh",
        # misc
        "Port 8080 on localhost:8080.", "Listen on :443 and :80.", "C:\\Users\\jane\\file.txt",
        "Chapter 1.2.3.4 and 1.2.3.5 cover it.", "The temperature was 21.5 \u00b0C.",
        "Use --seq_len 256 --micro_batch 16.", "Array shape (16, 256, 1024).", "Score 98.76 \u00b1 0.12.",
        # found in the demo corpus (stdlib doctests) after the battery was written
        ">>> ExtendedContext.quantize(Decimal('+35236450.6'), Decimal('1e-2'))",
    ]


# Written after the detector was tuned on the lists above and measured once before any change
# (the report quotes that first measurement): an estimate of how the rules carry over.
def held_out_real() -> list[tuple[str, str, str]]:
    _rng.seed(20261129)
    phones = ["+353 1 234 5678", "+48 22 123 45 67", "+90 212 555 12 34", "+62 21 5150 1234", "+20 2 2792 1234",
              "+234 803 123 4567", "+64 9 123 4567", "+358 9 1234 5678", "(212) 555-0147", "0044 20 7946 0000",
              "+1-212-555-0147", "089 1234567"]
    ctx = ["Ring our Dublin desk: {}", "WhatsApp {} any time", "tel. {}", "Numer telefonu: {}", "call {} (ask for Ahmed)"]
    items = [(ctx[i % len(ctx)].format(p), "phone", p) for i, p in enumerate(phones)]
    ips = ["192.0.2.1", "10.10.10.10", "2001:db8:abcd:12::7", "::ffff:10.0.0.5", "fe80::a00:27ff:fe4e:66a1"]
    items += [(f"Blocked {ip} after 5 attempts", "ip", ip) for ip in ips]
    items += [(f"Reply to {e}", "email", e) for e in ["li.wei@example.cn", "o'brien@example.ie".replace("'", ""),
                                                       "team+ci@builds.example.dev"]]
    keys = [("ghs_" + _r(36)), ("xoxp-" + _r(11, string.digits) + "-" + _r(12, string.digits) + "-" + _r(32)),
            ("sk-svcacct-" + _r(40)), ("AKIA" + _r(16, string.ascii_uppercase + string.digits)), ("hf_" + _r(34)),
            ("glpat-" + _r(20)), ("sk_live_" + _r(34))]
    items += [(f"leaked in logs: {k}", "api_key", k) for k in keys]
    items += [("MYSQL_ROOT_PASSWORD=" + (v := "Qz8" + _r(13)), "api_key", v),
              ("\"client_secret\": \"" + (w := _r(32)) + "\"", "api_key", w)]
    return items


def held_out_look_alikes() -> list[str]:
    return ["Kernel 5.15.0.91 is installed.", "SNMP OID 1.3.6.1.2.1.2.2 lists interfaces.", "Meeting 2024-03-15 14:00.",
            "Population 8 336 817 (2022).", "Years 2015 2016 2017 2018 2019", "ISBN 978-0-596-52068-7",
            "Phone numbers are stored as strings.", "token_type = 'bearer'", "password = request.form['password']",
            "secret = secrets.token_hex(16)", "api_key = config.get('api_key')", "The ratio is 1:2:3:4.",
            "Run pytest -k test_api_key_rotation.", "Docs at docs.example.com/v1.2.3.4/api.",
            "lat 52.5200 lon 13.4050", "Gene ID 1234567 on chromosome 7.", "Build 2024.03.15.2 passed.",
            "She scored 100 200 300 points in three rounds.", "Use ::before and ::after in CSS.",
            "rust: use std::collections::HashMap;", "Matrix 3 x 3 x 3.", "Download speed 1 234 567 bytes/s.",
            "Copyright 2001-2024 The Authors.", "Set the seed: --seed 20261127", "Layer 12 of 24, head 3 of 16.",
            "version_info = (3, 11, 7, 'final', 0)", "IPv4 has 4.294.967.296 addresses.", "A = [0.1, 0.2, 0.3]",
            "Error code 0x80070005 returned.", "The passkey_length_bits = 256 setting."]
