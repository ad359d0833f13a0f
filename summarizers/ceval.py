# C-Eval leaderboard rows: the 4 categories, C-Eval Hard and all 52 subjects, each averaged two ways:
#   <name>-subject-avg   the mean of the subjects' accuracies: every subject counts the same
#                        (C-Eval's and OpenCompass's convention);
#   <name>-question-avg  the accuracy over all their questions: subjects weighted by question count.
# Use:  summarizer = dict(summary_groups=ceval_summary_groups)   (or ceval_mini_summary_groups)
#
# Why one dataset per subject ("ceval-<subject>", as in OpenCompass) rather than one C-Eval dataset
# broken down by subject: leaderboard groups are built from dataset results (compass/summarize/
# tables.py), so per-subject datasets give category and Hard rows with 95% CIs, and a result file per
# subject, with no new summarizer machinery. The price: group weights are fixed in the config, so the
# question weights below are the official val split sizes (the split C-Eval is scored on). A run on
# other data (a test_range, a subset of questions) should use the -subject-avg rows.
#
# The subject table here must agree with compass/datasets/ceval.py (tests/test_ceval.py checks it);
# config files cannot import the package, so the two cannot share one table.

ceval_categories = {
    "STEM": ["computer_network", "operating_system", "computer_architecture", "college_programming",
             "college_physics", "college_chemistry", "advanced_mathematics", "probability_and_statistics",
             "discrete_mathematics", "electrical_engineer", "metrology_engineer", "high_school_mathematics",
             "high_school_physics", "high_school_chemistry", "high_school_biology", "middle_school_mathematics",
             "middle_school_biology", "middle_school_physics", "middle_school_chemistry", "veterinary_medicine"],
    "Social Science": ["college_economics", "business_administration", "marxism", "mao_zedong_thought",
                       "education_science", "teacher_qualification", "high_school_politics",
                       "high_school_geography", "middle_school_politics", "middle_school_geography"],
    "Humanities": ["modern_chinese_history", "ideological_and_moral_cultivation", "logic", "law",
                   "chinese_language_and_literature", "art_studies", "professional_tour_guide",
                   "legal_professional", "high_school_chinese", "high_school_history", "middle_school_history"],
    "Other": ["civil_servant", "sports_science", "plant_protection", "basic_medicine", "clinical_medicine",
              "urban_and_rural_planner", "accountant", "fire_engineer", "environmental_impact_assessment_engineer",
              "tax_accountant", "physician"],
}
ceval_hard = ["advanced_mathematics", "discrete_mathematics", "probability_and_statistics", "college_chemistry",
              "college_physics", "high_school_mathematics", "high_school_chemistry", "high_school_physics"]
ceval_subjects = [s for subjects in ceval_categories.values() for s in subjects]

# Official val split sizes (1,346 questions in all): the question weights of the -question-avg rows.
ceval_val_counts = {
    "computer_network": 19, "operating_system": 19, "computer_architecture": 21, "college_programming": 37,
    "college_physics": 19, "college_chemistry": 24, "advanced_mathematics": 19, "probability_and_statistics": 18,
    "discrete_mathematics": 16, "electrical_engineer": 37, "metrology_engineer": 24, "high_school_mathematics": 18,
    "high_school_physics": 19, "high_school_chemistry": 19, "high_school_biology": 19,
    "middle_school_mathematics": 19, "middle_school_biology": 21, "middle_school_physics": 19,
    "middle_school_chemistry": 20, "veterinary_medicine": 23, "college_economics": 55,
    "business_administration": 33, "marxism": 19, "mao_zedong_thought": 24, "education_science": 29,
    "teacher_qualification": 44, "high_school_politics": 19, "high_school_geography": 19,
    "middle_school_politics": 21, "middle_school_geography": 12, "modern_chinese_history": 23,
    "ideological_and_moral_cultivation": 19, "logic": 22, "law": 24, "chinese_language_and_literature": 23,
    "art_studies": 33, "professional_tour_guide": 29, "legal_professional": 23, "high_school_chinese": 19,
    "high_school_history": 20, "middle_school_history": 22, "civil_servant": 47, "sports_science": 19,
    "plant_protection": 22, "basic_medicine": 19, "clinical_medicine": 22, "urban_and_rural_planner": 46,
    "accountant": 49, "fire_engineer": 31, "environmental_impact_assessment_engineer": 31, "tax_accountant": 49,
    "physician": 49,
}

# The synthetic mini set (compass.synthetic.write_ceval with n_val=ceval_mini_val_counts):
# two subjects per category, two of them Hard, with unequal val sizes so the two averages differ.
ceval_mini_val_counts = {"advanced_mathematics": 4, "high_school_physics": 2, "college_economics": 5,
                         "middle_school_geography": 2, "logic": 3, "modern_chinese_history": 2, "accountant": 4,
                         "physician": 2}

_rows = {"STEM": "stem", "Social Science": "social-science", "Humanities": "humanities", "Other": "other"}


def _groups(prefix, subjects, counts):
    sets = [(f"{prefix}-{_rows[c]}", [s for s in members if s in subjects]) for c, members in ceval_categories.items()]
    sets += [(f"{prefix}-hard", [s for s in ceval_hard if s in subjects]), (prefix, list(subjects))]
    groups = []
    for name, members in sets:
        if members:
            abbrs = [f"{prefix}-{s}" for s in members]
            groups.append(dict(name=f"{name}-subject-avg", subsets=abbrs))
            groups.append(dict(name=f"{name}-question-avg", subsets=abbrs, weights=[counts[s] for s in members]))
    return groups


ceval_summary_groups = _groups("ceval", ceval_subjects, ceval_val_counts)
ceval_mini_summary_groups = _groups("ceval-mini", list(ceval_mini_val_counts), ceval_mini_val_counts)
