"""C-Eval: ``{dev,val,test}/<subject>_<split>.csv`` with a header ``id,question,A,B,C,D,answer[,explanation]``.

The test split's answers are not public (its files have no ``answer`` column), so C-Eval is scored on
``val`` with few-shot examples from ``dev``. ``path`` may also be a hub name (``ceval/ceval-exam``, one
config per subject). The 52 subjects, their Chinese names and categories are tabled below;
``summarizers/ceval.py`` groups leaderboard rows by the same categories.
"""
from __future__ import annotations

import csv
from pathlib import Path

from compass.datasets.base import LoadedDataset, Sample, hub_load, load_subject_csvs, subset_names
from compass.errors import CompassError

LETTERS = ("A", "B", "C", "D")
COLUMNS = ("id", "question", *LETTERS, "answer")  # every file the loader reads must have these
STEM, SOCIAL_SCIENCE, HUMANITIES, OTHER = "STEM", "Social Science", "Humanities", "Other"
CATEGORIES = (STEM, SOCIAL_SCIENCE, HUMANITIES, OTHER)

# subject -> (Chinese name, category), in C-Eval's own order.
SUBJECTS: dict[str, tuple[str, str]] = {
    "computer_network": ("计算机网络", STEM),
    "operating_system": ("操作系统", STEM),
    "computer_architecture": ("计算机组成", STEM),
    "college_programming": ("大学编程", STEM),
    "college_physics": ("大学物理", STEM),
    "college_chemistry": ("大学化学", STEM),
    "advanced_mathematics": ("高等数学", STEM),
    "probability_and_statistics": ("概率统计", STEM),
    "discrete_mathematics": ("离散数学", STEM),
    "electrical_engineer": ("注册电气工程师", STEM),
    "metrology_engineer": ("注册计量师", STEM),
    "high_school_mathematics": ("高中数学", STEM),
    "high_school_physics": ("高中物理", STEM),
    "high_school_chemistry": ("高中化学", STEM),
    "high_school_biology": ("高中生物", STEM),
    "middle_school_mathematics": ("初中数学", STEM),
    "middle_school_biology": ("初中生物", STEM),
    "middle_school_physics": ("初中物理", STEM),
    "middle_school_chemistry": ("初中化学", STEM),
    "veterinary_medicine": ("兽医学", STEM),
    "college_economics": ("大学经济学", SOCIAL_SCIENCE),
    "business_administration": ("工商管理", SOCIAL_SCIENCE),
    "marxism": ("马克思主义基本原理", SOCIAL_SCIENCE),
    "mao_zedong_thought": ("毛泽东思想和中国特色社会主义理论体系概论", SOCIAL_SCIENCE),
    "education_science": ("教育学", SOCIAL_SCIENCE),
    "teacher_qualification": ("教师资格", SOCIAL_SCIENCE),
    "high_school_politics": ("高中政治", SOCIAL_SCIENCE),
    "high_school_geography": ("高中地理", SOCIAL_SCIENCE),
    "middle_school_politics": ("初中政治", SOCIAL_SCIENCE),
    "middle_school_geography": ("初中地理", SOCIAL_SCIENCE),
    "modern_chinese_history": ("近代史纲要", HUMANITIES),
    "ideological_and_moral_cultivation": ("思想道德修养与法律基础", HUMANITIES),
    "logic": ("逻辑学", HUMANITIES),
    "law": ("法学", HUMANITIES),
    "chinese_language_and_literature": ("中国语言文学", HUMANITIES),
    "art_studies": ("艺术学", HUMANITIES),
    "professional_tour_guide": ("导游资格", HUMANITIES),
    "legal_professional": ("法律职业资格", HUMANITIES),
    "high_school_chinese": ("高中语文", HUMANITIES),
    "high_school_history": ("高中历史", HUMANITIES),
    "middle_school_history": ("初中历史", HUMANITIES),
    "civil_servant": ("公务员", OTHER),
    "sports_science": ("体育学", OTHER),
    "plant_protection": ("植物保护", OTHER),
    "basic_medicine": ("基础医学", OTHER),
    "clinical_medicine": ("临床医学", OTHER),
    "urban_and_rural_planner": ("注册城乡规划师", OTHER),
    "accountant": ("注册会计师", OTHER),
    "fire_engineer": ("注册消防工程师", OTHER),
    "environmental_impact_assessment_engineer": ("环境影响评价工程师", OTHER),
    "tax_accountant": ("税务师", OTHER),
    "physician": ("医师资格", OTHER),
}
# C-Eval Hard: the subjects whose questions need advanced mathematical reasoning.
HARD = ("advanced_mathematics", "discrete_mathematics", "probability_and_statistics", "college_chemistry",
        "college_physics", "high_school_mathematics", "high_school_chemistry", "high_school_physics")
NO_ANSWERS = "C-Eval's test answers are not public; score the val split (reader_cfg.test_split='val')"


def load(path: str, name: str | list[str] | None, train_split: str = "dev", test_split: str = "val") -> LoadedDataset:
    root = Path(path)
    if root.exists():
        return _load_local(root, name, train_split, test_split)
    return _load_hub(path, name, train_split, test_split)


def _load_local(root: Path, name, train_split: str, test_split: str) -> LoadedDataset:
    data = root / "data" if (root / "data").is_dir() else root  # the hub zip has no data/ level; accept both
    return load_subject_csvs(data, name, train_split, test_split, _read_csv, "C-Eval")


def _read_csv(path: Path, subject: str) -> list[Sample]:
    if not path.is_file():
        raise CompassError(f"{path}: missing C-Eval file")
    samples: list[Sample] = []
    seen: set[str] = set()
    try:
        # utf-8-sig: copies saved by spreadsheet tools start with a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            if "answer" not in header and all(c in header for c in COLUMNS[:-1]):
                raise CompassError(f"{path}:1: no 'answer' column ({NO_ANSWERS})")
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise CompassError(f"{path}:1: header lacks {', '.join(missing)} "
                                   f"(expected id,question,A,B,C,D,answer[,explanation])")
            start = reader.line_num + 1
            for row in reader:
                # A quoted field may span lines: report the line the row starts on.
                lineno, start = start, reader.line_num + 1
                if not row:
                    continue
                if len(row) != len(header):
                    raise CompassError(f"{path}:{lineno}: expected {len(header)} columns ({','.join(header)}), "
                                       f"got {len(row)}")
                sample = _sample(dict(zip(header, row)), subject, f"{path}:{lineno}")
                if sample.id in seen:
                    raise CompassError(f"{path}:{lineno}: duplicate id {sample.id.split('/', 1)[1]!r}")
                seen.add(sample.id)
                samples.append(sample)
    except UnicodeDecodeError as exc:
        raise CompassError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise CompassError(f"{path}: malformed CSV ({exc})") from None
    return samples


def _sample(row: dict, subject: str, where: str) -> Sample:
    answer = str(row.get("answer") or "").strip()
    if answer not in LETTERS:
        hint = f" ({NO_ANSWERS})" if not answer else ""
        raise CompassError(f"{where}: column 'answer' is {answer!r}, expected one of A, B, C, D{hint}")
    row_id = str(row["id"]).strip()
    if not row_id:
        raise CompassError(f"{where}: column 'id' is empty")
    zh = SUBJECTS[subject][0] if subject in SUBJECTS else subject.replace("_", " ")
    fields = {key: str(row[key]) for key in ("question", *LETTERS)}
    fields.update(subject=subject.replace("_", " "), subject_zh=zh, question_stripped=fields["question"].strip())
    if "explanation" in row:
        fields["explanation"] = str(row["explanation"] or "")
    return Sample(f"{subject}/{row_id}", fields, answer, subject)


def _load_hub(path: str, name, train_split: str, test_split: str) -> LoadedDataset:
    test: list[Sample] = []
    fewshot: list[Sample] = []
    for subject in subset_names(name) or list(SUBJECTS):
        ds = hub_load(path, subject, "C-Eval directory")
        for split, out in ((test_split, test), (train_split, fewshot)):
            if split not in ds:
                raise CompassError(f"{path}[{subject}]: no split {split!r} (has: {', '.join(ds)})")
            out += [_sample(dict(row), subject, f"{path}[{subject}/{split}] row {i + 1}")
                    for i, row in enumerate(ds[split])]
    return LoadedDataset(test, fewshot)
