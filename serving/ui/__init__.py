"""The Gradio page: its layout and the handlers behind it."""
