"""Chat models: the protocol the answer path speaks, its backends (OpenAI-compatible, local GGUF), the model
download."""
