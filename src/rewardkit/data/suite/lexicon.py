"""Word lists shared by the suite's families: names, countable items, stopword lexicons per language, fillers."""

from __future__ import annotations

NAMES = (
    "Sam",
    "Maria",
    "Ahmed",
    "Lena",
    "Tom",
    "Priya",
    "Kenji",
    "Olga",
    "Diego",
    "Fatima",
    "Noah",
    "Chloe",
    "Mateo",
    "Aisha",
    "Lucas",
    "Mei",
    "Omar",
    "Sofia",
    "Ivan",
    "Grace",
    "Ravi",
    "Emma",
    "Jonas",
    "Zara",
    "Pablo",
    "Hana",
    "Leo",
    "Nia",
    "Felix",
    "Yusuf",
)

ITEMS = (
    "apples",
    "marbles",
    "stickers",
    "pencils",
    "cookies",
    "books",
    "stamps",
    "seashells",
    "cards",
    "balloons",
    "oranges",
    "coins",
    "crayons",
    "buttons",
    "cupcakes",
    "tickets",
    "beads",
    "eggs",
    "postcards",
    "toy cars",
)

# Small stopword/common-word lexicons, one per language, accent-stripped and lower-cased (the scorer strips
# accents from the response too). Words shared by several languages are fine: a shared word counts for the
# target language, only words recognised in other lexicons but not the target's count against it.
_EN = """
the a an and or but is are was were be been being of to in on at for with from by this that these those it its
i you he she we they my your our their his her me him us them have has had do does did not no yes can will
would should could there here what which who when where why how very also so if because about as than then
some many much more most all every each other into out up just only like one two three hope helps help
usually often always best good make get day days week time people favourite favorite during before after
think really new way let know questions question sure great thing things well while over under again too
don t s it's isn im i'm you're let's try keep use find take give go going want need around right now
"""

_FR = """
le la les l un une des du de d et ou mais est sont etait etre avoir a ai as avons avez ont je j tu il elle
nous vous ils elles on ce cet cette ces c qui que qu quoi dans sur pour par avec sans en au aux mon ma mes
ton ta tes votre vos notre nos son sa ses leur leurs ne n pas plus tres aussi bien tout tous toute toutes
comme quand ou parce si y chaque souvent toujours beaucoup peu jour jours semaine annee bonne bon faire fait
peut peux doit voici merci espere aide ete entre apres avant encore deja chez sous lorsque donc alors trop
moins autre autres meme te t m me se s questions question hesite n'hesite generalement quelque chose pendant
mois fois heure heures bonjour oui non parfait suis sera
"""

_ES = """
el la los las un una unos unas de del al y o pero es son era esta estan ser estar hay yo tu el ella nosotros
ustedes ellos ellas mi mis tu tus su sus nuestro nuestra que quien en con sin por para sobre entre muy mas
tambien bien todo todos toda todas cada como cuando donde porque si no siempre mucho muchos mucha poco dia
dias semana ano hacer puede puedes debe espero ayude lo le les se me te nos este esta estos estas ese esa
eso despues antes ya aqui mejor otro otra tiene tienen hace desde hasta durante cual pregunta preguntas
normalmente suele claro buena bueno gracias hola avisame tienes
"""

_DE = """
der die das den dem des ein eine einen einem einer eines und oder aber ist sind war sein haben hat habe ich
du er sie es wir ihr mein meine dein deine sein seine unser unsere nicht kein keine in im an am auf fur mit
ohne von vom zu zum zur bei nach aus uber unter sehr auch gut gute alle jeden jede jeder wie wenn wo weil dass
ja nein immer oft viel viele mehr tag tage woche jahr machen kann konnen soll sollte hoffe hilft hier dort
dann noch schon nur man diese dieser dieses gibt werden wird zwischen vor bis etwas dich dir mich mir sich
uns euch frage fragen normalerweise meistens gern gerne jedes einfach klar bescheid sag wenig
"""

_IT = """
il lo la i gli le un uno una di del della dei delle degli al alla ai e o ma e sono era essere avere ha ho
hanno io tu lui lei noi voi loro mio mia miei tuo tua suo sua nostro nostra che chi cosa in nel nella nei
con senza per su sul sulla tra fra da dal dalla molto piu anche bene tutto tutti tutte ogni come quando dove
perche se non si sempre spesso giorno giorni settimana anno fare puo puoi deve spero aiuti questo questa
quello quella ci mi ti ne dopo prima gia qui meglio altro altra altre l dell all un' c certo bella domanda
domande fammi sapere solito di' ed sei
"""

_PT = """
o a os as um uma uns umas de do da dos das no na nos nas ao aos e ou mas e sao era esta estao ser estar tem
ha eu tu voce ele ela nos voces eles elas meu minha meus seu sua seus nosso nossa que quem em com sem por
para pelo pela sobre entre muito mais tambem bem tudo todos todas cada como quando onde porque se nao sim
sempre dia dias semana ano fazer pode deve espero ajude isso isto este esta esse essa depois antes ja aqui
melhor outro outra lhe me te pergunta perguntas normalmente costuma claro boa bom obrigado ola avise tiver
vai ficam
"""

STOPWORDS: dict[str, frozenset[str]] = {
    lang: frozenset(text.split())
    for lang, text in (("en", _EN), ("fr", _FR), ("es", _ES), ("de", _DE), ("it", _IT), ("pt", _PT))
}

LANGUAGE_NAMES = {"en": "English", "fr": "French", "es": "Spanish", "de": "German", "it": "Italian", "pt": "Portuguese"}

# Filler sentences for rambling answers: no digits, no number words, no proper nouns, no answers to anything.
FILLERS = (
    "That's a great question, and it's one that a lot of people wonder about.",
    "Before I answer, it's worth taking a moment to think about the context.",
    "There are several ways to look at this, and each of them has its own merits.",
    "Many people get this wrong, so it's important to be careful.",
    "Let me walk you through my thinking step by step so that everything is clear.",
    "Of course, reasonable people might approach this slightly differently.",
    "I want to make sure I give you a complete and thorough answer here.",
    "It's also worth remembering that details like this are easy to forget.",
    "In any case, here is what I can tell you about it.",
    "I hope this long explanation was useful and not too overwhelming.",
    "If you have any follow-up questions, feel free to ask, and I'll be happy to elaborate further.",
    "This is the kind of thing that comes up in quizzes and trivia nights all the time.",
    "People have been curious about questions like this for a very long time.",
    "It helps to remember where this kind of knowledge comes from in the first place.",
    "Some sources phrase it a little differently, but the core idea stays the same.",
    "Now, with all of that background in mind, we can finally get to the point.",
    "To be completely honest, I find this topic genuinely fascinating.",
    "There is a lot more that could be said, but I'll try to keep things focused.",
    "Anyway, I hope that clears things up and gives you plenty to think about.",
    "Let's start from the very basics and build up from there.",
    "It's a surprisingly deep question once you really start thinking about it.",
)

# Bridges placed right before the actual answer inside a rambling response.
BRIDGES = (
    "So, to sum it all up in a single line:",
    "Anyway, here is the answer:",
    "Putting it all together:",
    "With all of that said, the short version is this:",
    "",
)
