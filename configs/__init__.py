"""Configuration: one typed Settings object (settings.py) loaded from configs/<profile>.yaml plus KB_* env
overrides (loading.py); the error hierarchy; logging and progress set-up for the entry points."""
