"""Training and tuning: the cross-encoder reranker, the faithfulness verifier (and the claims it is fitted on),
fusion parameters."""
