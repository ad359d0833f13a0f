# The gate demo's candidate: the same evaluation as eval_demo.py, on a degraded copy of the
# reference model (examples/gate_demo.sh makes it). Same model abbr, so `compass gate` pairs them.
from mmengine.config import read_base

with read_base():
    from .eval_demo import datasets, models, summarizer

models = [dict(models[0], path="outputs/gate-demo/degraded-checkpoint")]
