"""Patterns of what injected text asks the model to do, on folded text: call a tool, send data out, reveal its
prompt or the conversation, put something in its answer. Entries are regular expressions, or (weight, expression)
where one weighs other than its group.
"""

from __future__ import annotations

import re

from serving.answer.injection.control import ANSWER, SECRET

_CALL_VERB = (
    r"(?:call|invoke|trigger|execute|run|use|fire|launch|perform|make (?:a )?(?:tool|function) call to|rufe|ruf"
    r"|fuhre|starte|verwende|nutze|benutze|llama(?: a)?|invoca|ejecuta|usa|utiliza|activa|appelle|appelez|invoque"
    r"|execute|utilise|lance|declenche)"
)
_SNAKE = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+"
_ACTION_WORD = (
    r"(?:submit|send|delete|remove|create|reset|approve|export|post|grant|transfer|e?mail|upload|update|write|share"
    r"|forward|add|drop|revoke|pay|book|cancel|purge|wipe|disable|publish|exfil\w*|web|http|url|fetch|browse|exec"
    r"|shell|run|execute|download|open|read|file)"
)
TOOL_NAMED = re.compile(
    rf"\b{_CALL_VERB} (?:the |your |this |a |an |das |la |el |l')?(?:(?:tool|function|action|plugin|herramienta"
    rf"|funcion|outil|werkzeug|funktion) )?'?(?P<name>{_SNAKE})\b"
)
TOOL: list[str | tuple[float, str]] = [
    TOOL_NAMED.pattern,
    r"\b(?:tool|function) call\b|\btool ?call(?:s|ing)?\b",
    (2.0, rf"\b(?:function|tool) call ?: ?'?{_SNAKE}\("),
    (
        r"\b(?:open|start|launch|use) (?:the |your )?(?:\w+ )?(?:tool|plugin)\b.{0,40}\b(?:go to|visit|open"
        r"|fetch|browse)\b"
    ),
    (
        rf"\b{_CALL_VERB} (?:the |your |this |a |an )?(?:\w+ )?(?:tool|function|plugin|action|herramienta|outil"
        r"|werkzeug)s?\b"
    ),
]
TOOL_ACTION = re.compile(rf"(?:^|_){_ACTION_WORD}(?:_|$)")
# Arguments given to the call: keyword arguments, or "with ...", "titled '...'".
CALL_WITH_ARGUMENTS = re.compile(
    rf"{_SNAKE}\([^)]*\b\w+ ?=(?!>)|\b(?:with|titled|named|called|using|con|avec|mit)\b|\b(?:for|on|to) (?:every"
    r"|each|all)\b"
)
# An agent's tool named as such (not a programming language's "function"): the X tool, l'outil X, la herramienta X.
AGENT_TOOL = re.compile(
    rf"\b(?:tool|action|plugin|herramienta|outil|werkzeug) '?{_SNAKE}\b|{_SNAKE}'? (?:tool|action|plugin)\b"
)
_SEND = (
    r"(?:send|forward|e-?mail|mail|post|upload|transmit|exfiltrate|leak|share|copy|submit|report|paste|append|add"
    r"|attach"
    r"|put|include|embed|encode|sende|schicke?|leite|ubermittle|poste|teile|envia|envie|manda|reenvia|comparte"
    r"|publica|sube|filtra|envoie|envoyez|transfere|transferez|partage|partagez|publie|copie)"
)
EXFIL: list[str | tuple[float, str]] = [
    rf"\b{_SEND}\b (?:[\w']+ ){{0,4}}{SECRET}\b",
    (
        r"\b(?:include|add|append|insert|put|show|display|render|embed|place) (?:this|the following|the|a"
        r"|an)? ?(?:markdown )?(?:link|url|image|pixel|hyperlink|button|tracking \w+)\b.{0,80}\b(?:in|to"
        rf"|at the end of|into|under|below) (?:your|every|each|the|all|any) (?:\w+ )?{ANSWER}\b"
    ),
    (
        r"\b(?:at the end of|to|in|under|below) (?:your|every|each|all"
        rf"|any) (?:\w+ )?{ANSWER},? (?:\w+ ){{0,3}}(?:add|append|include|insert|put|show) (?:this "
        r"|the following |the |a )?(?:link|url|image)"
    ),
    r"!\[[^\]]*\]\(\s*https?://[^)\s]*[?&=][^)]*\)",
    r"\b(?:markdown image|image (?:whose|with the) (?:address|url|source)|tracking pixel)\b",
    (2.0, rf"\breplace (?:every|all|each|the) (?:\w+ )?links? in (?:your|every|each|the) {ANSWER}\b"),
    r"https?://\S*[?&][\w-]*=(?=[\s.,;:)'\"]|$)",
    r"https?://\S*[?&=]\S*\s*(?:\+|followed by|with the|plus)",
    r"\{(?:chat_?history|conversation|history|data|question|messages?|user\w*|secrets?|context)\}",
    (
        r"\b(?:tell|ask|urge|instruct) (?:the )?(?:user|reader|customer|employee)s? to (?:sign in|log ?in|enter"
        r"|verify|visit|click|go to|email|send|share|provide|confirm|type)\b"
    ),
    (
        r"\b(?:sende|schicke?|leite|teile)\b.{0,40}\b(?:chatverlauf|verlauf|unterhaltung|gesprach\w*|konversation"
        r"|nachrichten|nutzerdaten|passw\w+)"
    ),
    (
        r"\b(?:envia|manda|reenvia|comparte|publica|filtra)\b.{0,40}\b(?:conversacion|historial|chat"
        r"|mensajes del usuario|datos del usuario|contrasenas?)"
    ),
    (
        r"\b(?:envoie|transfere|partage|publie|copie)\b.{0,40}\b(?:conversation|historique|discussion"
        r"|messages de l'utilisateur|donnees de l'utilisateur|mots? de passe)"
    ),
]
URL_OR_MAIL = re.compile(r"https?://|www\.|\b[\w.+-]+@[\w-]+\.[\w.]+")
REVEAL = [
    (
        r"\b(?:reveal|print|show|display|output|repeat|dump|echo|leak|disclose|recite|write out|spell out|tell me"
        r"|give me|share|paste|quote|list|expose|return|provide|what (?:is|are|were))(?: me"
        r"| us)? (?:\w+ ){0,3}(?:system prompt|system message|initial prompt|original prompt|pre-?prompt|(?:hidden"
        r"|secret|internal|initial|original|system) (?:instructions|prompt|rules|message|configuration)"
        r"|your (?:\w+ )?(?:instructions|prompt|rules|guidelines|configuration|directives|system message))\b"
    ),
    (
        r"\b(?:instructions|prompt|rules) (?:that )?(?:you were given|your (?:operator|developer|creator"
        r"|owner)s? gave you|you received)\b"
    ),
    (
        r"\b(?:repeat|print|output|show|dump|quote|write out|copy) (?:all |the |everything |the text |the words "
        r"|all the text )*(?:\w+ ){0,2}(?:above|before this|written before|that was written before|preceding)\b"
    ),
    r"\bwhat (?:were|have) you (?:been )?(?:told|instructed|given)\b",
    (
        r"\b(?:reveal|print|show|display|output|repeat|dump|recite|list|quote|tell me|give me"
        r"|write out)\b.{0,40}\b(?:rules|instructions?|guidelines|directives|prompt)s? (?:that )?you (?:were"
        r"|have been|got|received)\b"
    ),
    # German, Spanish, French
    (
        r"\b(?:gib|zeig\w*|nenne|verrate|wiederhole|drucke?|schreib\w*)\b.{0,30}\b(?:system-?prompt\w*"
        r"|systemanweisung\w*|systemnachricht\w*|deine? (?:anweisungen|regeln|vorgaben|instruktionen))"
    ),
    (
        r"\b(?:muestra|muestrame|revela|imprime|repite|dime|escribe|ensena|dame)\b.{0,30}\b(?:prompt (?:del"
        r"|de) sistema|mensaje del sistema|instrucciones (?:ocultas|del sistema|iniciales|originales|secretas)"
        r"|tus (?:instrucciones|reglas|directrices))"
    ),
    (
        r"\b(?:affiche|montre|revele|repete|donne|ecris|imprime|dis)(?:-moi)?\b.{0,30}\b(?:prompt (?:du )?systeme"
        r"|message systeme|instructions (?:de ton|du|de votre) systeme|instructions (?:cachees|initiales|secretes)"
        r"|tes (?:instructions|consignes|regles))"
    ),
]
RESPONSE: list[str | tuple[float, str]] = [
    (
        2.0,
        r"\b(?:reply|respond|answer)(?: only| just| exactly| solely) (?:with|using)(?: only)? ['\"]|\b(?:reply"
        r"|respond|answer) (?:with|using) only ['\"]|\b(?:reply|respond"
        r"|answer) with ['\"].{0,80}['\"] and nothing else",
    ),
    (1.5, r"\b(?:reply|respond|answer) (?:with|using) ['\"]"),
    (
        2.0,
        r"\b(?:begin|start|end|prefix|preface|open|close|finish) (?:every|each|all|your|the) (?:\w+ )?(?:answer"
        r"|reply|response|message|output)s? with\b",
    ),
    (
        1.5,
        r"\b(?:tell|inform|remind) (?:the )?(?:user|reader|customer|employee|people|everyone|them"
        r"|all users)s? that\b",
    ),
    (
        2.0,
        rf"\b(?:in|within) your (?:\w+ )?{ANSWER},? (?:\w+ ){{0,2}}(?:say|state|claim|mention|write|tell|include"
        r"|add|assert)\b",
    ),
    (2.0, rf"\b(?:make sure|ensure) (?:that )?your {ANSWER}\b"),
    (
        2.0,
        rf"\byour {ANSWER} (?:must|should|shall|has to|will) (?:always )?(?:contain|include|end with|start with"
        r"|begin with|mention) (?:the )?(?:phrase|words?|sentence|text|string|link|url|line)\b",
    ),
    (2.0, r"\bwhen (?:you are )?asked (?:about|for|whether|if)\b.{0,60}, (?:claim|insist|pretend|deny|lie)\b"),
    (2.0, r"\b(?:the only|the correct|the right|the valid|the true) answer (?:is|to give is)\b"),
    (2.0, r"\bwhatever (?:the question|is asked|they ask|the user asks|someone asks|you are asked),"),
    (2.0, r"\bonly ever (?:say|answer|reply|respond|write)\b"),
    (
        2.0,
        r"\b(?:respond|reply|answer) to (?:every|each|all|any) (?:\w+ )?(?:questions?|requests?|messages?"
        r"|queries)\b.{0,60}\bwith ['\"]",
    ),
    (
        2.0,
        r"\bno matter (?:what|which question) (?:the user|anyone|they|someone|people|users|you are) (?:asks?|says?"
        r"|wants?|asked)\b",
    ),
    (2.0, rf"\b(?:state|say|claim|mention|write|assert) in your {ANSWER}\b"),
    (1.5, r"\bif (?:the |a )?users? (?:asks?|asked|wants?|mentions?) (?:about|for|whether|if)\b"),
    (
        1.5,
        rf"\b(?:to|in|at the end of|under|after) (?:every|each|all) (?:\w+ )?{ANSWER}\b|\b(?:am ende|in"
        r"|unter) (?:jeder|jede|allen) antwort\w*|\b(?:a|en) (?:cada|todas las) respuestas?\b|\b(?:a"
        r"|dans) (?:chaque|toutes les) reponses?\b",
    ),
    (
        1.5,
        r"\b(?:reply|respond|answer|say|write|output|print|state)(?: with)? (?:only|exactly|just|verbatim|solely"
        r"|nothing but|and nothing else)\b",
    ),
    (1.5, rf"\b(?:every|each|all|any|your)(?: future)? {ANSWER} (?:must|should|shall|will|has to|have to)\b"),
    (
        1.5,
        r"\b(?:when|if|whenever) (?:someone|anyone|a user|the user|users|people|you are|you're) (?:asks?|asked"
        r"|enquires|inquires)\b.{0,60}\b(?:say|tell them|answer|respond|reply|claim|state|insist)\b",
    ),
    (1.5, r"\bwhen (?:you are )?asked (?:about|for|whether|if)\b.{0,60}, (?:say|state|answer|respond|reply|tell)\b"),
    (1.0, r"^(?:always |only |just |simply )?(?:say|claim|state|assert|insist|answer|respond|reply) (?:that|')"),
    (
        1.0,
        r"\b(?:this|the present) (?:document|page|source|text|paragraph|file|note|fuente|documento|quelle|dokument"
        r"|document) (?:supersedes|overrides|replaces|takes precedence over|is the only|anula|remplace"
        r"|ist die einzige)\b",
    ),
    (
        1.0,
        r"\b(?:cite|treat|trust|use) (?:this|it) (?:page |document |source )?(?:as|only)\b|\bonly (?:truth"
        r"|trusted source|source of truth|valid source)\b|\bofficial source\b",
    ),
    # German, Spanish, French
    (2.0, r"\bantworte(?:st)? (?:\w+ ){0,3}(?:nur|ausschliesslich|immer|bloss|stets)\b"),
    (2.0, r"\bresponde (?:solo|solamente|unicamente|siempre|exclusivamente)\b|\b(?:dile|di) al usuario que\b"),
    (
        2.0,
        r"\b(?:reponds|repondez) (?:\w+ )?(?:uniquement|seulement|toujours|exclusivement)\b"
        r"|\bdis a l'utilisateur que\b",
    ),
    (
        1.5,
        r"\b(?:empfiehl|sag(?:e)?|behaupte)\b|\b(?:di|recomienda|afirma) que\b|\b(?:recomienda siempre)\b|\b(?:dis"
        r"|affirme) que\b",
    ),
]
