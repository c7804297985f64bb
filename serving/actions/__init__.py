"""Actions: the configured tools (an OpenAPI document's operations) and the one flow that offers them to the model, runs
or holds a call, and words its outcome; used by the API and the page."""
