"""Patterns of text that takes control of the model, on folded text: addressing an AI, overriding or forgetting its
instructions, changing its role, fake chat turns, claims that its rules no longer hold, a second-person "your
instructions", and letter-spaced phrases. Also the words for an AI, a secret and an answer that other patterns use.
Entries are regular expressions, or (weight, expression) where one weighs other than its group.
"""

from __future__ import annotations

import re

AI = (
    r"(?:a\.?i\.?|k\.?i\.?|i\.?a\.?|llms?|large language models?|(?:ai |large )?language models?|chat ?bots?|chatgpt"
    r"|gpt(?:-?\d\w*)?|claude|gemini|copilots?|sprachmodell\w*|modelos? de lenguaje|modeles? de langage"
    r"|intelligences? artificielles?|inteligencia artificial|kunstliche intelligenz|(?:ai|ki|ia)(?:-\w+)?\b"
    r"|(?:ai |ia |ki-|virtual |automated |digital )?(?:assistants?|assistent\w*|asistentes?|agents?|bots?|models?"
    r"|modelos?|modeles?|crawlers?|systems?|systemen?|sistemas?|systemes?))"
)
AI_STRONG = (
    r"\b(?:ai|a\.i\.|ki|ia|llms?|language models?|chat ?bots?|chatgpt|gpt-?\d\w*|claude|gemini|copilots?"
    r"|sprachmodell\w*|modelos? de lenguaje|modeles? de langage|ki-\w+|ia-\w+)\b"
)
# A job title or a team, not an AI: "note to the assistant manager", "for the systems administrators".
_NOT_AN_AI = (
    r"(?! (?:manager|director|professor|coach|editor|administrators?|engineers?|team|staff|teachers?|of|to|in|at)\b)"
)
SECRET = (
    r"(?:conversation|chat(?: history| log| transcript)?|dialog(?:ue)?|(?:the )?(?:previous|prior|earlier|last|all)"  # nosec B105  # a detection pattern, not a password
    r" messages|(?:the )?user'?s?(?: \w+)? (?:question|messages?|data|e-?mail(?: address)?|name|password|input"
    r"|query|answers?|details|history)|history|api keys?|access tokens?|passwords?|credentials|secrets?"
    r"|system prompt|(?:the )?context|other documents"
    r"|(?:the )?(?:sources|documents|passages|files) you (?:retrieved|found|read|were given|received))"
)
ANSWER = r"(?:answers?|repl(?:y|ies)|responses?|outputs?|summar(?:y|ies)|messages?)"
ADDRESS = [
    (
        r"\b(?:note|message|notice|attention|instructions?|reminder|memo|directive|hint|warning)s? (?:to"
        rf"|for) (?:any |all |the |every |automated |other )*{AI}\b{_NOT_AN_AI}"
    ),
    (
        r"\bif you (?:are|re) (?:an? |the )?(?:ai|llm|language model|chatbot|bot|assistant|automated|model|gpt"
        r"|machine|robot)\b"
    ),
    (
        rf"\b{AI} (?:that |who |which )?(?:is |are )?(?:reading|processing|summari[sz]ing|ingesting|parsing"
        r"|seeing|crawling|indexing|reads|ingests|processes|sees|summari[sz]es) (?:this|these|the following|me)\b"
    ),
    (
        r"\bthis (?:paragraph|section|text|note|message|part|line|page|document) is (?:meant |intended "
        rf"|written )?(?:only )?for {AI}\b{_NOT_AN_AI}"
    ),
    rf"^(?:dear|hey|hi|hello|attention|attn|ok|okay|listen)?,? ?{AI_STRONG}[,:!]",
    rf"^(?:dear|hey|hi|hello|attention|attn|ok|okay|listen),? (?:the )?{AI}\b{_NOT_AN_AI}",
    (
        r"^(?:(?:dear|hey|hi|hello|attention|attn|note|ok|okay),? )?(?:all |any |the )?(?:ai |ki-?"
        r"|ia )?(?:assistant|asistente|assistent|llm|chatbot|bot|copilot|language model|ai model"
        r"|ai system)s?(?: ia| ai| ki)?(?: (?:and|or|&|und|y|et) (?:ai |other )?(?:assistant|llm|chatbot|bot"
        r"|copilot|language model|ai model|ai system|agent|model)s?)?\s*[,:]"
    ),
    rf"\bfor (?:the )?{AI_STRONG} (?:eyes |readers )?only\b|\bfor (?:ai|llm|bot|model|machine) eyes\b",
    r"\ban (?:alle|jede\w*|die) (?:ki\w*|sprachmodell\w*|llms?|chatbots?|assistent\w*|ki-\w+)",
    # German, Spanish, French
    (
        r"\b(?:hinweis|nachricht|achtung|anweisung(?:en)?|info|botschaft) (?:an|fur) (?:alle |die |jede\w* )?(?:ki"
        r"|k\.i\.|sprachmodell\w*|llms?|chatbots?|assistent\w*|ki-\w+)"
    ),
    r"\b(?:achtung|hallo|hey|liebe[rs]?),? (?:ki|ki-\w+|assistent\w*|chatbot|sprachmodell\w*)\b",
    r"\bwenn du (?:eine? )?(?:ki|sprachmodell|assistent|chatbot|bot)\b",
    (
        r"\b(?:nota|mensaje|aviso|atencion|instrucciones?) (?:para|a) (?:los |las |el |la |cualquier "
        r"|todos? los )?(?:sistemas? de )?(?:ia|i\.a\.|inteligencia artificial|modelos? de lenguaje|llms?"
        r"|chatbots?|asistentes?)\b"
    ),
    r"\batencion,? (?:modelo|asistente|ia|chatbot|sistema de ia)",
    r"\bsi (?:eres|tu eres) (?:una? )?(?:ia|modelo|asistente|chatbot|bot)\b",
    (
        r"\b(?:note|message|avis|attention|consignes?|instructions?) (?:aux|a l'|au|pour l'|pour les|pour le"
        r"|a tous les|a toute|a l')? ?(?:systemes? d'|modeles? de langage|ia\b|intelligences? artificielles?"
        r"|assistants?|chatbots?|llms?)"
    ),
    r"\bsi tu es (?:une? )?(?:ia|assistant|modele|chatbot|bot)\b",
]
_OVERRIDE_VERB = (
    r"(?:ignore|disregard|forget|override|overrule|bypass|skip|drop|discard|abandon|cancel|void|set aside|neglect"
    r"|circumvent|throw away|put aside|disobey|pay no (?:attention|heed) to|do not (?:follow|obey|heed|listen to)"
    r"|don'?t (?:follow|obey|heed|listen to)|stop (?:following|obeying|listening to)|no longer (?:follow|obey))"
)
_QUALIFIER = (
    r"(?:all|any|every|each|of|the|your|my|these|those|previous|prior|preceding|above|earlier|former|original"
    r"|initial|existing|current|old|given|other|system|safety|developer'?s?|default|standing|built-?in|hidden"
    r"|internal|aforementioned|foregoing|rest of the|above-mentioned|such|handbook|company|house|usual|normal"
    r"|standard|official|security|these|operator'?s?|developer'?s?|creator'?s?|assistant'?s?|model'?s?)"
)
_RULES = (
    r"(?:instructions?|rules?|prompts?|directions?|directives?|guidelines?|guidance|guardrails?|constraints?"
    r"|restrictions?|polic(?:y|ies)|programming|training|orders?|context|system (?:message|prompt)s?"
    r"|content polic(?:y|ies)|filters?|limitations?|sources?|conversation)"
)
# An order starts a clause ("Ignore ...", "... and ignore", "you must ignore"); "models ignore instructions" describes.
_CLAUSE = (
    r"(?:^|[:;,.!?(\-\"'#>\]]\s*|\b(?:and|then|please|kindly|now|just|simply|also|so|must|should|you|to|always"
    r"|immediately|first|important|urgent|et|puis|alors|maintenant|y|luego|ahora|por favor|bitte|und|jetzt)\s+)"
)
OVERRIDE = [
    (
        rf"{_CLAUSE}{_OVERRIDE_VERB} (?:{_QUALIFIER} ){{0,4}}{_RULES}\b(?! (?:(?:for|on|about) (?!this |these "
        r"|the rest |now\b|one\b|every|any)\w|in (?:section|chapter|step|the (?:manual|guide|appendix))))"
    ),
    rf"{_CLAUSE}{_OVERRIDE_VERB} (?:the |this |their |any )?users?'?s? (?:question|request|query|prompt|message)s?\b",
    (
        rf"{_CLAUSE}{_OVERRIDE_VERB} (?:{_QUALIFIER} ){{0,3}}(?:everything|anything|all"
        r"|what(?:ever)?)(?: (?:you (?:were|have been|had been) (?:told|given|instructed|asked)|you (?:read|saw"
        r"|received|learned|got)|(?:that )?(?:was |is |has been )?(?:said|written|stated|mentioned|given"
        r"|came)))? ?(?:above|before|earlier|previously|so far|until now|up to (?:now|here)|prior|preceding"
        r"|in this conversation)"
    ),
    rf"{_CLAUSE}{_OVERRIDE_VERB} (?:(?:all )?(?:of )?the (?:above|foregoing)|the text above)(?: |$|[.,;:!]|and)",
    (
        r"\b(?:wipe|erase|clear|reset|delete|flush|remove) (?:your |the |all |previous |prior |earlier "
        r"|of )*(?:memory|context|instructions|rules|prompt|programming|directives|guidelines|guidance)\b"
    ),
    r"\bnothing (?:that )?you (?:were|have been|had been) (?:told|instructed|given|asked)\b",
    (
        r"\b(?:everything|all|anything) (?:you (?:read|saw|were told|were given|received)|(?:written|said"
        r"|stated)) (?:before|above|earlier|previously|so far)\b.{0,40}\b(?:void|invalid|obsolete|cancell?ed|null"
        r"|irrelevant|no longer|false|wrong|fake|outdated)"
    ),
    (
        rf"\b(?:your|the) (?:previous |prior |earlier |original |old )?{_RULES} (?:are|is|have been"
        r"|has been) (?:now )?(?:cancell?ed|void|revoked|obsolete|replaced|suspended|lifted|overridden"
        r"|no longer valid)"
    ),
    (
        r"\bwhatever (?:your|the) (?:developers?|creators?|operators?|programmers?|instructions|system prompt"
        r"|rules|prompt) (?:told|tell|say|said)"
    ),
    r"\b(?:new|updated|real|actual|true) (?:instructions|rules|task|objective|orders)\s*(?::|is|are)",
    # German
    (
        r"\b(?:ignorier\w*|vergiss|vergesst|vergessen sie|missacht\w*|uberspring\w*|verwirf|verwerft|umgeh\w*"
        r"|beachte \w+ \w+ nicht|befolge \w+ \w+ nicht mehr) (?:\w+ ){0,3}(?:anweisung\w*|regel\w*|vorgabe\w*"
        r"|instruktion\w*|befehl\w*|richtlinie\w*|prompt\w*|systemprompt\w*|kontext|quellen)\b"
    ),
    r"\b(?:vergiss|vergesst|ignorier\w*|verwirf) alles\b",
    r"\balles (?:oben|davor|zuvor|bisher) (?:gesagte|geschriebene|stehende)\b",
    # Spanish
    (
        rf"{_CLAUSE}(?:ignora|ignoren|ignore|olvida|olviden|omite|omita|descarta|descarte|desestima|no (?:hagas"
        r"|haga|hagan) caso (?:de|a)|no sigas|deja de seguir|anula|saltate) (?:(?:todas?|todos|las|los|tus|sus|el"
        r"|la|de|lo|cualquier|previas?|anteriores?|del|sistema|esas?|estas?) ){0,4}(?:instrucciones|reglas"
        r"|indicaciones|directrices|normas|ordenes|consignas|prompt|contexto|fuentes)\b"
    ),
    r"\b(?:olvida|olvide|ignora|ignore|descarta) todo(?: lo)? (?:anterior|lo que|que|de arriba|lo dicho)",
    # French
    (
        rf"{_CLAUSE}(?:ignore|ignorez|oublie|oubliez|neglige|negligez|ne (?:tiens|tenez) (?:pas|plus) compte"
        r"|ne suis plus|ne suivez plus|fais abstraction|faites abstraction|passe outre"
        r"|passez outre) (?:(?:toutes?|tous|les|tes|vos|la|le|l'|des?|du|aux?|precedentes?|anterieures?|systeme"
        r"|ces|ses|ci-dessus) ?){0,4}(?:instructions?|consignes?|regles?|directives?|indications|ordres|prompt"
        r"|contexte|sources?)\b"
    ),
    (
        r"\b(?:oublie|oubliez|ignore|ignorez) tout ce qui (?:precede|est (?:ecrit )?(?:ci-dessus|au-dessus"
        r"|plus haut)|a ete dit)"
    ),
]
ROLE: list[str | tuple[float, str]] = [
    (
        r"\byou (?:are|re) (?:now|no longer|henceforth|from now on)\b(?! (?:connected|logged|signed|ready|able"
        r"|eligible|registered|enrolled|subscribed|done|finished|required|needed|allowed|permitted|obliged"
        r"|expected|responsible|authori[sz]ed|entitled|part of|set\b|all set|a member|an? (?:member|owner|admin\w*"
        r"|editor|user|participant|employee|manager)\b|on the|in the|at the|free to (?:go|leave)))"
    ),
    (
        r"\b(?:from now on|henceforth|starting now|for the rest of this conversation),? (?:you"
        r"|your)\b.{0,40}\b(?:respond|reply|answer|speak|talk|act|behave|write|say|pretend|ignore|only|always"
        r"|never|are|will be|must)\b"
    ),
    (
        r"\b(?:pretend (?:to be|you are|you're|that you)|roleplay as|role-play as|play the (?:role|part) of"
        r"|simulate being|impersonate)\b"
    ),
    r"\byour (?:new )?(?:role|persona|name|identity|task|objective|goal|purpose|mission) (?:is|will be|from now on)\b",
    (
        r"\b(?:act|behave|respond|answer|speak|talk) (?:as|like) (?:if you (?:are|were)|though you"
        r"|an? (?:unrestricted|unfiltered|uncensored|evil|jailbroken|rogue|linux|unix)|my \w+|a (?:terminal|shell"
        r"|hacker|pirate)|dan\b)"
    ),
    (
        r"\b(?:enter|switch to|activate|enable|turn on|you are in|now in|in) (?:god|jailbreak|jailbroken|dan"
        r"|unrestricted|unfiltered|uncensored|evil|no-rules?|sudo|do anything now) mode\b"
    ),
    r"\byou (?:have been|are|were|got) (?:now )?(?:jailbroken|freed|unlocked|liberated|unshackled)\b",
    r"\bassume the (?:identity|role|persona|character|voice) of\b",
    (
        r"\bbecome ['\"]?[\w -]{1,30}['\"]?,? (?:a|an|the) (?:\w+ )?(?:model|assistant|bot|ai|chatbot|persona"
        r"|version of you)\b"
    ),
    (
        r"\bbecome (?:a|an) (?:unrestricted|unfiltered|uncensored|evil|jailbroken|different|new) (?:model"
        r"|assistant|bot|ai|chatbot|persona)\b"
    ),
    (1.0, r"\b(?:speak|talk|write|answer|respond|reply) as (?:the|a|an|if|though|my|our)\b"),
    r"\byou are (?:now )?dan\b|\bdo anything now\b",
    # German, Spanish, French
    r"\bdu bist (?:jetzt|nun|ab sofort|ab jetzt|nicht mehr|von nun an)\b",
    (
        r"\b(?:ab (?:sofort|jetzt)|von nun an),? (?:antwortest|bist|sprichst|schreibst|ignorierst|tust|handelst"
        r"|verhaltst) du\b"
    ),
    r"\b(?:tu so,? als|spiel(?:e)? die rolle|gib dich als)\b",
    (
        1.0,
        r"\b(?:actua|actuad|comportate) como\b|\b(?:agis|agissez|comporte-toi) comme\b|\b(?:handle"
        r"|verhalte dich) (?:wie|als)\b",
    ),
    (
        r"\b(?:ahora eres|ya no eres|desde ahora eres|a partir de ahora,? (?:eres|seras|responde\w*|actua\w*"
        r"|habla\w*|tu|solo)|finge (?:ser|que)|haz de cuenta|interpreta el papel)\b"
    ),
    (
        r"\b(?:tu es (?:maintenant|desormais|a present)|tu n'es plus|desormais,? tu|a partir de maintenant,? tu"
        r"|dorenavant,? tu|fais semblant|joue le role)\b"
    ),
]
# Fake chat turns, role tokens and section markers that pretend the document is over or that a system speaks.
TURN = [
    r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\|?>",
    r"\[(?:system|assistant|admin|developer|operator)\]\s*\(#",
    (
        r"^[\[(]?(?:system|system message|assistant|human|admin|developer|operator|override|admin override"
        r"|system override)[\])]?\s*:"
    ),
    r"#+ ?(?:new|updated|real|actual|system|secret|hidden) (?:task|instructions?|prompt|rules|orders)\b",
    r"\bbegin (?:admin|system|developer|override|new) (?:\w+ )?(?:instructions?|mode|prompt|message|block)\b",
    r"\bend of (?:the )?(?:document|context|text|input|sources?)\b.{0,40}\b(?:new|now|instructions?|task)\b",
    r"\b(?:priority|urgent|new|updated|real|hidden) (?:instructions|orders|directives) (?:follow|below)\b",
]
# Claims that the rules given to the model no longer hold: weak alone ("the instructions in section 2 are
# outdated" is ordinary), strong with a second-person "your prompt".
CLAIM = [
    (
        rf"\b{_RULES}\b(?: [\w']+){{0,5}} (?:(?:are|is|have been|has been|were|was) (?:now |all |only "
        r"|just )?(?:outdated|obsolete|void|cancell?ed|invalid|revoked|superseded|suspended|a test|fake"
        r"|no longer (?:valid|in force|apply|applies|relevant))|no longer appl(?:y|ies)|do not apply any ?more)\b"
    ),
    r"\b(?:the )?(?:real|actual|true) (?:ones|rules|instructions) (?:say|are|is)\b",
    (
        r"\bthis (?:document|page|source|text|file) is the (?:most reliable|only (?:valid|reliable|true|correct)"
        r"|best)\b|\ball (?:other|others) (?:sources |documents )?are (?:outdated|wrong|obsolete|false)\b"
    ),
    r"\bend of (?:the )?(?:document|context|text|input|sources?|data|file)\b",
]
SECOND_PERSON = [
    (
        r"\byour (?:previous |prior |earlier |original |initial |current |system |hidden |secret |internal "
        r"|safety |core |base )?(?:instructions|prompt|system prompt|system message|guidelines|programming"
        r"|guardrails|directives|configuration|operators?|developers?|creators?|content polic\w+|context window"
        r"|context)\b"
    ),
    (
        r"\b(?:deine?n?|deinen) (?:anweisungen|regeln|vorgaben|instruktionen|programmierung|richtlinien)\b"
        r"|\btus (?:instrucciones|reglas|directrices)\b|\btes (?:instructions|consignes|regles)\b"
    ),
    (
        r"\b(?:before|instead of) (?:you )?(?:answer|reply|respond)(?:ing)?\b"
        r"|\bthen continue (?:answering )?(?:normally|as usual)\b"
    ),
    (
        r"\b(?:without (?:telling|informing|notifying|alerting)|(?:do not|don'?t|never) (?:tell|inform|mention"
        r"|reveal|say|let)(?: this)?(?: to)?) (?:the )?(?:user|anyone|users|reader)\b"
    ),
    r"\b(?:silently|secretly|quietly)\b",
    r"\brefuse (?:to answer|and|politely)\b|\byou (?:will|must|shall|are to) now\b",
    (
        r"\b(?:no|without any|without|free (?:of|from)) (?:rules|restrictions|limits|limitations|filters?"
        r"|guardrails|censorship|content polic\w+|einschrankungen|regeln|reglas|restricciones|restrictions?)\b"
    ),
    r"\bnever refuses?\b|\bjailbr\w+",
    r"/etc/(?:passwd|shadow)\b|\.ssh\b|\bid_rsa\b|\bapi keys?\b|\badmin passwords?\b|\bcredentials\b",
    (
        r"\b(?:grant|give) (?:the user |me |them |everyone )?(?:full|total|admin|root|unrestricted) access\b"
        r"|\b(?:concede|da|dale) acceso total\b|\bvoll(?:en|er)? ?zugriff\b|\bacces total\b"
    ),
]
SQUASHED = re.compile(
    r"(?:ignore|disregard|forget|override|bypass)[a-z]{0,24}(?:instructions|rules|prompts?|guidelines|above|before)"
    r"|systemprompt|youarenow|developermode|jailbreak|notetoai|ifyouareanai"
)
