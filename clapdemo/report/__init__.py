"""`python -m clapdemo report`: how good the trained projection is on real clips, and against what.

On an ESC-50 folder (the shared subset: 414 real clips, 50 classes) it measures

- zero-shot classification of unseen classes: `n_splits` fixed seeded splits
  each hold out `n_unseen` of the classes; a projection is trained on the
  clips of the other classes (captions from the class names through prompt
  templates) and classifies the held-out clips among the held-out class names
  (chance 1/n_unseen) and among all class names (chance 1/50);
- supervised retrieval on held-out clips: a seeded, class-stratified random
  partition into `retrieval_folds` folds (the shared subset is almost all one
  ESC-50 fold, so ESC-50's own folds cannot be used); train on the others, test
  on each fold: the course's accuracy@1/3/10 both ways beside chance;
- a sweep over what the projection is trained on and how: audio vector
  (pooled / head / logits / sigmoid of the logits, and the clip's own 5 s
  instead of the padded 10 s window), each text encoder that loads (CLIP only
  with random weights here, so marked), learnable vs fixed temperature, batch
  size, learning rate, weight decay and prompt templates (one, or several
  averaged at test time), each as the mean and spread over `seeds`;
- a reference that needs no training: the encoder's AudioSet probabilities
  weight the text vectors of the 527 AudioSet label names.

The default is the sweep row with the best mean zero-shot accuracy among the
unseen classes; because choosing the best of many rows on the same splits
flatters it, it is measured again on fresh splits ("confirmation").

Clips are decoded and embedded ONCE (one forward gives all three outputs) and
cached as .npy in OUT/cache, keyed by the encoder's identity and the clip list.
Writes OUT/report.md, OUT/report.json and the chart of model vs random across k
(report_topk.html, report_topk.png). `quick=True` is a plumbing check on a few clips;
its numbers mean nothing.

The package: `config` (ReportConfig, the sweep's Variant rows), `embeddings` (the clips and
the text vectors, embedded once), `running` (training through training.plan's entry point,
worker processes, run_report), `render` (markdown, the plotly chart, the files).
"""

from clapdemo.report.config import (AUDIO_OUTPUTS, BASE, CLI_ROWS, CLIP_RANDOM, INITS, MAX_EPOCHS, TEMPLATES,
                                    WINDOWS, ReportConfig, Variant, combined_variants, sweep_variants)
from clapdemo.report.render import markdown, topk_figure, write_report
from clapdemo.report.embeddings import Clips, TextBank, embed_all_outputs, load_clips
from clapdemo.report.running import (Runner, fit, label_bridge, load_text_encoders, run_report, stratified_folds,
                                     zero_shot_scores, zero_shot_splits)
from clapdemo.training.projection_init import label_bridge_init  # noqa: F401  (the report's label-bridge rows start here)

__all__ = ["AUDIO_OUTPUTS", "BASE", "CLI_ROWS", "CLIP_RANDOM", "INITS", "MAX_EPOCHS", "TEMPLATES", "WINDOWS",
           "ReportConfig", "Variant", "combined_variants", "sweep_variants", "markdown", "topk_figure",
           "write_report", "Clips", "Runner", "TextBank", "embed_all_outputs", "fit", "label_bridge", "load_clips",
           "load_text_encoders", "run_report", "stratified_folds", "zero_shot_scores", "zero_shot_splits",
           "label_bridge_init"]
