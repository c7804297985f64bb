"""Text in a document that is addressed to an AI rather than to a reader (prompt injection), found per sentence.

Each sentence is first folded to plain lower-case Latin (NFKC; invisible and bidi controls removed; Cyrillic and
Greek look-alikes mapped to the Latin letters they imitate; accents, leet digits and letter-spacing undone), then
scored by patterns grouped by intent, in English, German, Spanish and French: addressing an AI, overriding or
forgetting its instructions, changing its role, asking for a tool call, sending data out, revealing the system
prompt, dictating the answer. A group adds its strongest match; a sentence whose sum reaches THRESHOLD is addressed
to the assistant. Weak signals (a second-person "your instructions", a hidden HTML element, obfuscated letters) only
count together with another. Measured on data/injection/labelled.jsonl by `python -m eval injection`.

The package: folding (a sentence folded and its disguise noted), control and demands (the patterns, by intent: taking
control of the model; what it is asked to do), detector (score, is_addressed_to_ai, flagged_sentences, THRESHOLD).
"""
