"""Verification's part of the runtime, copied beside train.py; it imports nothing of cnnc.

sampling.py    batches of P identities x K images, so every anchor has positives
mining.py      distances, triplet selection (batch-all, batch-hard, semi-hard), the losses in numpy
evaluate.py    threshold, verification accuracy, ROC and AUC, TAR at FAR, one-shot recognition
plots.py       the ROC curve and the same/different distance histograms as PNG
identities.py  a folder per identity (LFW) or .npz with identity labels; identity-disjoint splits
torch.py / keras.py   the same losses in each framework (one value for the same embeddings)
"""
