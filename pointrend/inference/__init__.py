"""Inference: eval modes (`modes`), dataset evaluation and metrics, predicting files, pictures,
export to a static graph and the deployed `predictor.Predictor`."""
