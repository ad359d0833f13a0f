# GSM8K as OpenCompass 0.5 asks a base model (configs/datasets/gsm8k/gsm8k_gen.py, i.e.
# gsm8k_gen_1d7fe4, through HuggingFaceBaseModel, whose template parser joins the dialogue turns with
# "\n"): four fixed worked examples, then "Question: ..\nLet's think step by step\nAnswer:". Its
# examples are train questions 7364, 1708, 669 and 6724 of the official train split (7,473 rows, in
# the order of openai/grade-school-math's train.jsonl), each solution without calculator notes and
# ending "The answer is N". Greedy, up to 512 new tokens; OpenCompass reads the answer before the
# first "Question:", so generation stops there. Chat models (chat=True) get a different prompt.
gsm8k_opencompass_reader_cfg = dict(input_columns=["question"], output_column="answer", train_split="train",
                                    test_split="test")
_question = "Question: {question}\nLet's think step by step\nAnswer:"
gsm8k_opencompass_infer_cfg = dict(
    ice_template=dict(template=_question + "\n{solution}\nThe answer is {gold}\n\n"),
    prompt_template=dict(template=_question),
    retriever=dict(type="FixKRetriever", fix_id_list=[7364, 1708, 669, 6724]),
    inferencer=dict(type="GenInferencer", max_out_len=512, stop=["Question:"]),
)

gsm8k_datasets = [
    dict(abbr="gsm8k_opencompass", type="gsm8k", path="openai/gsm8k", name="main",
         reader_cfg=gsm8k_opencompass_reader_cfg, infer_cfg=gsm8k_opencompass_infer_cfg,
         eval_cfg=dict(evaluator=dict(type="Gsm8kEvaluator"), pred_postprocessor=dict(type="gsm8k")),
         prompt_preset="opencompass"),
]
