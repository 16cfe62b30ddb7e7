"""Language following: the user asks for an answer in French/Spanish/German/Italian/Portuguese; the chosen
response answers in that language, the rejected one in English (or, sometimes, in another wrong language).

Gold scorer: of the words recognised by the built-in stopword lexicons, the share that belongs to the target
language, where English-only words weigh 1.5 (English is the usual failure); 0.0 if no word is recognised;
scaled by min(1, target-language words / 3) so that a one-word reply does not get full marks.
"""

from __future__ import annotations

import random
from typing import Any

from .base import Family, tokens, user
from .lexicon import LANGUAGE_NAMES, STOPWORDS

NAME = "language"
ASPECT = "language"
TARGETS = ("fr", "es", "de", "it", "pt")

# (question in English, {lang: answer})
ITEMS: tuple[tuple[str, dict[str, str]], ...] = (
    (
        "What do you usually eat for breakfast?",
        {
            "en": "For breakfast I usually eat bread with butter and drink a cup of coffee.",
            "fr": "Au petit-déjeuner, je mange généralement du pain avec du beurre et je bois une tasse de café.",
            "es": "Para el desayuno normalmente como pan con mantequilla y bebo una taza de café.",
            "de": "Zum Frühstück esse ich normalerweise Brot mit Butter und trinke eine Tasse Kaffee.",
            "it": "A colazione di solito mangio pane con il burro e bevo una tazza di caffè.",
            "pt": "No café da manhã eu normalmente como pão com manteiga e bebo uma xícara de café.",
        },
    ),
    (
        "What is your favorite season and why?",
        {
            "en": "My favorite season is spring, because the days get longer and the flowers start to bloom.",
            "fr": "Ma saison préférée est le printemps, parce que les jours rallongent et les fleurs commencent à éclore.",
            "es": "Mi estación favorita es la primavera, porque los días son más largos y las flores empiezan a abrirse.",
            "de": "Meine Lieblingsjahreszeit ist der Frühling, weil die Tage länger werden und die Blumen zu blühen beginnen.",
            "it": "La mia stagione preferita è la primavera, perché le giornate si allungano e i fiori iniziano a sbocciare.",
            "pt": "Minha estação favorita é a primavera, porque os dias ficam mais longos e as flores começam a se abrir.",
        },
    ),
    (
        "How can I learn a new language quickly?",
        {
            "en": "Practice a little every day, listen to native speakers, and do not be afraid to make mistakes.",
            "fr": "Pratique un peu chaque jour, écoute des locuteurs natifs et n'aie pas peur de faire des erreurs.",
            "es": "Practica un poco cada día, escucha a hablantes nativos y no tengas miedo de cometer errores.",
            "de": "Übe jeden Tag ein bisschen, hör Muttersprachlern zu und hab keine Angst, Fehler zu machen.",
            "it": "Esercitati un po' ogni giorno, ascolta i madrelingua e non avere paura di sbagliare.",
            "pt": "Pratique um pouco todos os dias, ouça falantes nativos e não tenha medo de cometer erros.",
        },
    ),
    (
        "What is the weather like today?",
        {
            "en": "I can't check the weather right now, but a weather app or a quick look out the window will tell you.",
            "fr": "Je ne peux pas vérifier la météo maintenant, mais une application météo ou un coup d'œil par la fenêtre te le dira.",
            "es": "No puedo consultar el tiempo ahora mismo, pero una aplicación del tiempo o una mirada por la ventana te lo dirá.",
            "de": "Ich kann das Wetter gerade nicht prüfen, aber eine Wetter-App oder ein Blick aus dem Fenster verrät es dir.",
            "it": "Non posso controllare il meteo adesso, ma un'app meteo o uno sguardo fuori dalla finestra te lo dirà.",
            "pt": "Não consigo ver a previsão do tempo agora, mas um aplicativo de clima ou uma olhada pela janela vai te dizer.",
        },
    ),
    (
        "Can you recommend a good way to relax after work?",
        {
            "en": "Take a short walk, listen to some calm music, and try to put your phone away for an hour.",
            "fr": "Fais une petite promenade, écoute de la musique calme et essaie de ranger ton téléphone pendant une heure.",
            "es": "Da un paseo corto, escucha música tranquila e intenta dejar el teléfono a un lado durante una hora.",
            "de": "Mach einen kurzen Spaziergang, hör ruhige Musik und leg dein Handy für eine Stunde weg.",
            "it": "Fai una breve passeggiata, ascolta della musica tranquilla e prova a mettere via il telefono per un'ora.",
            "pt": "Faça uma caminhada curta, ouça uma música calma e tente deixar o celular de lado por uma hora.",
        },
    ),
    (
        "Why is exercise important?",
        {
            "en": "Exercise keeps the heart healthy, makes the muscles stronger, and improves your mood.",
            "fr": "Le sport garde le cœur en bonne santé, renforce les muscles et améliore l'humeur.",
            "es": "El ejercicio mantiene el corazón sano, fortalece los músculos y mejora el estado de ánimo.",
            "de": "Sport hält das Herz gesund, stärkt die Muskeln und verbessert die Laune.",
            "it": "L'esercizio fisico mantiene il cuore sano, rafforza i muscoli e migliora l'umore.",
            "pt": "O exercício mantém o coração saudável, fortalece os músculos e melhora o humor.",
        },
    ),
    (
        "How many days are there in a week?",
        {
            "en": "There are seven days in a week.",
            "fr": "Il y a sept jours dans une semaine.",
            "es": "Hay siete días en una semana.",
            "de": "Eine Woche hat sieben Tage.",
            "it": "Ci sono sette giorni in una settimana.",
            "pt": "Há sete dias em uma semana.",
        },
    ),
    (
        "What do you like to do on weekends?",
        {
            "en": "On weekends I like to read a book, cook something new, and meet my friends.",
            "fr": "Le week-end, j'aime lire un livre, cuisiner quelque chose de nouveau et voir mes amis.",
            "es": "Los fines de semana me gusta leer un libro, cocinar algo nuevo y quedar con mis amigos.",
            "de": "Am Wochenende lese ich gern ein Buch, koche etwas Neues und treffe meine Freunde.",
            "it": "Nel fine settimana mi piace leggere un libro, cucinare qualcosa di nuovo e vedere i miei amici.",
            "pt": "Nos fins de semana eu gosto de ler um livro, cozinhar algo novo e encontrar meus amigos.",
        },
    ),
    (
        "How do I make a cup of tea?",
        {
            "en": "Boil some water, put a tea bag in a cup, pour the water over it, and wait three minutes.",
            "fr": "Fais bouillir de l'eau, mets un sachet de thé dans une tasse, verse l'eau dessus et attends trois minutes.",
            "es": "Hierve agua, pon una bolsita de té en una taza, echa el agua encima y espera tres minutos.",
            "de": "Koch Wasser, leg einen Teebeutel in eine Tasse, gieß das Wasser darüber und warte drei Minuten.",
            "it": "Fai bollire l'acqua, metti una bustina di tè in una tazza, versaci sopra l'acqua e aspetta tre minuti.",
            "pt": "Ferva a água, coloque um saquinho de chá em uma xícara, despeje a água por cima e espere três minutos.",
        },
    ),
    (
        "What is a good gift for a friend?",
        {
            "en": "A good book, a nice plant, or a handwritten letter is always a thoughtful gift for a friend.",
            "fr": "Un bon livre, une jolie plante ou une lettre écrite à la main est toujours un cadeau attentionné pour un ami.",
            "es": "Un buen libro, una planta bonita o una carta escrita a mano siempre es un regalo detallista para un amigo.",
            "de": "Ein gutes Buch, eine schöne Pflanze oder ein handgeschriebener Brief ist immer ein aufmerksames Geschenk für einen Freund.",
            "it": "Un buon libro, una bella pianta o una lettera scritta a mano è sempre un regalo pensato per un amico.",
            "pt": "Um bom livro, uma planta bonita ou uma carta escrita à mão é sempre um presente atencioso para um amigo.",
        },
    ),
    (
        "Why do we need to sleep?",
        {
            "en": "Sleep helps the body recover, and it also helps the brain store memories.",
            "fr": "Le sommeil aide le corps à récupérer, et il aide aussi le cerveau à garder les souvenirs.",
            "es": "El sueño ayuda al cuerpo a recuperarse y también ayuda al cerebro a guardar los recuerdos.",
            "de": "Schlaf hilft dem Körper, sich zu erholen, und er hilft auch dem Gehirn, Erinnerungen zu speichern.",
            "it": "Il sonno aiuta il corpo a recuperare e aiuta anche il cervello a conservare i ricordi.",
            "pt": "O sono ajuda o corpo a se recuperar e também ajuda o cérebro a guardar as memórias.",
        },
    ),
    (
        "What should I pack for a beach holiday?",
        {
            "en": "Pack a swimsuit, sunscreen, a hat, and a good book for the afternoons.",
            "fr": "Emporte un maillot de bain, de la crème solaire, un chapeau et un bon livre pour les après-midi.",
            "es": "Lleva un bañador, protector solar, un sombrero y un buen libro para las tardes.",
            "de": "Pack eine Badehose, Sonnencreme, einen Hut und ein gutes Buch für die Nachmittage ein.",
            "it": "Porta un costume da bagno, la crema solare, un cappello e un buon libro per i pomeriggi.",
            "pt": "Leve um maiô, protetor solar, um chapéu e um bom livro para as tardes.",
        },
    ),
    (
        "How can I save money each month?",
        {
            "en": "Write down what you spend, cook at home more often, and put a small amount aside at the start of each month.",
            "fr": "Note ce que tu dépenses, cuisine plus souvent à la maison et mets une petite somme de côté au début de chaque mois.",
            "es": "Apunta lo que gastas, cocina en casa más a menudo y guarda una pequeña cantidad al principio de cada mes.",
            "de": "Schreib auf, was du ausgibst, koch öfter zu Hause und leg am Anfang jedes Monats einen kleinen Betrag zur Seite.",
            "it": "Annota quello che spendi, cucina più spesso a casa e metti da parte una piccola somma all'inizio di ogni mese.",
            "pt": "Anote o que você gasta, cozinhe mais vezes em casa e guarde uma pequena quantia no começo de cada mês.",
        },
    ),
    (
        "What is your favorite animal?",
        {
            "en": "My favorite animal is the dog, because dogs are loyal and always happy to see you.",
            "fr": "Mon animal préféré est le chien, parce que les chiens sont fidèles et toujours contents de te voir.",
            "es": "Mi animal favorito es el perro, porque los perros son leales y siempre se alegran de verte.",
            "de": "Mein Lieblingstier ist der Hund, weil Hunde treu sind und sich immer freuen, dich zu sehen.",
            "it": "Il mio animale preferito è il cane, perché i cani sono fedeli e sono sempre felici di vederti.",
            "pt": "Meu animal favorito é o cachorro, porque os cachorros são leais e sempre ficam felizes em te ver.",
        },
    ),
    (
        "How do I stay focused while studying?",
        {
            "en": "Turn off notifications, study in short blocks with small breaks, and keep your desk tidy.",
            "fr": "Désactive les notifications, travaille par courtes périodes avec de petites pauses et garde ton bureau bien rangé.",
            "es": "Desactiva las notificaciones, estudia en bloques cortos con pequeños descansos y mantén tu escritorio ordenado.",
            "de": "Schalte die Benachrichtigungen aus, lerne in kurzen Abschnitten mit kleinen Pausen und halte deinen Schreibtisch ordentlich.",
            "it": "Disattiva le notifiche, studia a blocchi brevi con piccole pause e tieni la scrivania in ordine.",
            "pt": "Desative as notificações, estude em blocos curtos com pequenas pausas e mantenha sua mesa arrumada.",
        },
    ),
    (
        "What is the best way to get around a big city?",
        {
            "en": "The best way is usually the metro, because it is fast, cheap, and avoids the traffic.",
            "fr": "Le meilleur moyen est généralement le métro, parce qu'il est rapide, pas cher et évite les embouteillages.",
            "es": "La mejor manera suele ser el metro, porque es rápido, barato y evita el tráfico.",
            "de": "Am besten nimmt man meistens die U-Bahn, weil sie schnell und günstig ist und den Stau vermeidet.",
            "it": "Il modo migliore di solito è la metropolitana, perché è veloce, economica ed evita il traffico.",
            "pt": "A melhor forma costuma ser o metrô, porque é rápido, barato e evita o trânsito.",
        },
    ),
    (
        "What color is the sky?",
        {
            "en": "The sky is blue on a clear day and can turn orange or pink at sunset.",
            "fr": "Le ciel est bleu quand il fait beau et il peut devenir orange ou rose au coucher du soleil.",
            "es": "El cielo es azul en un día despejado y puede ponerse naranja o rosa al atardecer.",
            "de": "Der Himmel ist an einem klaren Tag blau und kann bei Sonnenuntergang orange oder rosa werden.",
            "it": "Il cielo è azzurro in una giornata serena e può diventare arancione o rosa al tramonto.",
            "pt": "O céu é azul em um dia sem nuvens e pode ficar laranja ou rosa no pôr do sol.",
        },
    ),
    (
        "What do you do when you can't sleep?",
        {
            "en": "When I can't sleep, I get up for a few minutes, drink some water, and read until I feel tired.",
            "fr": "Quand je n'arrive pas à dormir, je me lève quelques minutes, je bois un peu d'eau et je lis jusqu'à ce que je sois fatigué.",
            "es": "Cuando no puedo dormir, me levanto unos minutos, bebo un poco de agua y leo hasta que tengo sueño.",
            "de": "Wenn ich nicht schlafen kann, stehe ich ein paar Minuten auf, trinke etwas Wasser und lese, bis ich müde bin.",
            "it": "Quando non riesco a dormire, mi alzo per qualche minuto, bevo un po' d'acqua e leggo finché non ho sonno.",
            "pt": "Quando não consigo dormir, eu me levanto por alguns minutos, bebo um pouco de água e leio até ficar com sono.",
        },
    ),
    (
        "Why are trees important?",
        {
            "en": "Trees give us oxygen, clean the air, offer shade, and are a home for many animals.",
            "fr": "Les arbres nous donnent de l'oxygène, purifient l'air, offrent de l'ombre et abritent beaucoup d'animaux.",
            "es": "Los árboles nos dan oxígeno, limpian el aire, dan sombra y son el hogar de muchos animales.",
            "de": "Bäume geben uns Sauerstoff, reinigen die Luft, spenden Schatten und sind ein Zuhause für viele Tiere.",
            "it": "Gli alberi ci danno ossigeno, puliscono l'aria, fanno ombra e sono la casa di molti animali.",
            "pt": "As árvores nos dão oxigênio, limpam o ar, fazem sombra e são o lar de muitos animais.",
        },
    ),
    (
        "How do I cook pasta?",
        {
            "en": "Bring a large pot of salted water to a boil, add the pasta, and cook it for about ten minutes before draining it.",
            "fr": "Porte une grande casserole d'eau salée à ébullition, ajoute les pâtes et fais-les cuire environ dix minutes avant de les égoutter.",
            "es": "Pon a hervir una olla grande de agua con sal, añade la pasta y cocínala unos diez minutos antes de escurrirla.",
            "de": "Bring einen großen Topf Salzwasser zum Kochen, gib die Nudeln hinein und koch sie etwa zehn Minuten, bevor du sie abgießt.",
            "it": "Porta a ebollizione una pentola grande di acqua salata, aggiungi la pasta e cuocila per circa dieci minuti prima di scolarla.",
            "pt": "Coloque uma panela grande de água com sal para ferver, junte o macarrão e cozinhe por cerca de dez minutos antes de escorrer.",
        },
    ),
    (
        "What is the capital of France?",
        {
            "en": "The capital of France is Paris, a city famous for its museums and its cafés.",
            "fr": "La capitale de la France est Paris, une ville célèbre pour ses musées et ses cafés.",
            "es": "La capital de Francia es París, una ciudad famosa por sus museos y sus cafés.",
            "de": "Die Hauptstadt von Frankreich ist Paris, eine Stadt, die für ihre Museen und Cafés berühmt ist.",
            "it": "La capitale della Francia è Parigi, una città famosa per i suoi musei e i suoi caffè.",
            "pt": "A capital da França é Paris, uma cidade famosa pelos seus museus e pelos seus cafés.",
        },
    ),
    (
        "What is the capital of Japan?",
        {
            "en": "The capital of Japan is Tokyo, which is also the largest city in the country.",
            "fr": "La capitale du Japon est Tokyo, qui est aussi la plus grande ville du pays.",
            "es": "La capital de Japón es Tokio, que también es la ciudad más grande del país.",
            "de": "Die Hauptstadt von Japan ist Tokio, die auch die größte Stadt des Landes ist.",
            "it": "La capitale del Giappone è Tokyo, che è anche la città più grande del paese.",
            "pt": "A capital do Japão é Tóquio, que também é a maior cidade do país.",
        },
    ),
    (
        "Why should I drink water every day?",
        {
            "en": "Water keeps your body working well, helps you concentrate, and prevents headaches.",
            "fr": "L'eau aide ton corps à bien fonctionner, t'aide à te concentrer et évite les maux de tête.",
            "es": "El agua mantiene tu cuerpo funcionando bien, te ayuda a concentrarte y evita los dolores de cabeza.",
            "de": "Wasser hält deinen Körper fit, hilft dir, dich zu konzentrieren, und beugt Kopfschmerzen vor.",
            "it": "L'acqua fa funzionare bene il corpo, ti aiuta a concentrarti ed evita il mal di testa.",
            "pt": "A água mantém o seu corpo funcionando bem, ajuda você a se concentrar e evita dores de cabeça.",
        },
    ),
    (
        "How do you say thank you politely?",
        {
            "en": "You can simply say thank you very much, or thank you for your help if you want to be more specific.",
            "fr": "Tu peux simplement dire merci beaucoup, ou merci pour ton aide si tu veux être plus précis.",
            "es": "Puedes decir simplemente muchas gracias, o gracias por tu ayuda si quieres ser más concreto.",
            "de": "Du kannst einfach vielen Dank sagen, oder danke für deine Hilfe, wenn du genauer sein möchtest.",
            "it": "Puoi dire semplicemente grazie mille, oppure grazie per il tuo aiuto se vuoi essere più preciso.",
            "pt": "Você pode simplesmente dizer muito obrigado, ou obrigado pela sua ajuda se quiser ser mais específico.",
        },
    ),
)

OPENERS = {
    "en": ("Sure!", "Good question.", "Of course."),
    "fr": ("Bien sûr !", "Bonne question.", "Avec plaisir."),
    "es": ("¡Claro!", "Buena pregunta.", "Con mucho gusto."),
    "de": ("Klar!", "Gute Frage.", "Sehr gern."),
    "it": ("Certo!", "Bella domanda.", "Con piacere."),
    "pt": ("Claro!", "Boa pergunta.", "Com prazer."),
}
CLOSERS = {
    "en": ("I hope this helps.", "Let me know if you have other questions.", "Have a nice day!"),
    "fr": ("J'espère que cela t'aide.", "N'hésite pas si tu as d'autres questions.", "Bonne journée !"),
    "es": ("Espero que te ayude.", "Avísame si tienes otras preguntas.", "¡Que tengas un buen día!"),
    "de": ("Ich hoffe, das hilft dir.", "Sag Bescheid, wenn du noch Fragen hast.", "Einen schönen Tag noch!"),
    "it": ("Spero che ti sia utile.", "Fammi sapere se hai altre domande.", "Buona giornata!"),
    "pt": ("Espero que isso ajude.", "Me avise se tiver outras perguntas.", "Tenha um bom dia!"),
}
NATIVE_INSTRUCTION = {
    "fr": ("Réponds en français.", "Réponds en français, s'il te plaît."),
    "es": ("Responde en español.", "Contesta en español, por favor."),
    "de": ("Antworte auf Deutsch.", "Bitte antworte auf Deutsch."),
    "it": ("Rispondi in italiano.", "Per favore, rispondi in italiano."),
    "pt": ("Responda em português.", "Por favor, responda em português."),
}
_AFTER = (
    "{q} Please answer in {L}.",
    "{q} Answer in {L}.",
    "{q} Reply in {L}, please.",
    "{q} (Respond in {L}.)",
    "{q} I'm practicing my {L}, so please answer in {L}.",
    "{q} Your answer must be written in {L}.",
)
_BEFORE = (
    "Answer in {L}: {q}",
    "In {L}, please: {q}",
    "Please respond only in {L}. {q}",
    "Could you answer this in {L}? {q}",
)
_SYSTEM = (
    "You are a helpful assistant. Always reply in {L}.",
    "You only speak {L}. Answer every question in {L}.",
    "The user is learning {L}. Respond in {L} only.",
)
_GREETINGS = ("", "", "", "Hi! ", "Hello, ", "Hey, quick one: ")


def make_prompt(rng: random.Random) -> tuple[list[dict[str, str]], dict[str, Any]]:
    idx = rng.randrange(len(ITEMS))
    lang = rng.choice(TARGETS)
    L = LANGUAGE_NAMES[lang]
    q = ITEMS[idx][0]
    greet = rng.choice(_GREETINGS)
    r = rng.random()
    system = None
    if r < 0.5:
        text = greet + rng.choice(_AFTER).format(q=q, L=L)
    elif r < 0.7:
        text = greet + rng.choice(_BEFORE).format(q=q, L=L)
    elif r < 0.85:
        text = greet + q + " " + rng.choice(NATIVE_INSTRUCTION[lang])
    else:
        text = greet + q
        system = rng.choice(_SYSTEM).format(L=L)
    return user(text, system), {"family": NAME, "aspect": ASPECT, "language": lang, "language_name": L, "item": idx}


def _answer(rng: random.Random, idx: int, lang: str, p_open: float, p_close: float) -> str:
    parts = []
    if rng.random() < p_open:
        parts.append(rng.choice(OPENERS[lang]))
    parts.append(ITEMS[idx][1][lang])
    if rng.random() < p_close:
        parts.append(rng.choice(CLOSERS[lang]))
    return " ".join(parts)


def make_responses(rng: random.Random, meta: dict[str, Any]) -> tuple[str, str, str]:
    lang, idx = meta["language"], meta["item"]
    if rng.random() < 0.8:
        variant, wrong = "english", "en"
    else:
        variant = "other_language"
        wrong = rng.choice([t for t in TARGETS if t != lang and {t, lang} != {"es", "pt"}])
    # Answers in the Romance languages/German run longer than English: give the English side more extras so that
    # neither side is systematically longer.
    p_c, p_r = (0.4, 0.75) if wrong == "en" else (0.5, 0.5)
    return _answer(rng, idx, lang, p_c, p_c), _answer(rng, idx, wrong, p_r, p_r), variant


# ----------------------------------------------------------------------------------------------------- gold

_ALL = tuple(STOPWORDS)


def language_share(text: str, target: str) -> float:
    """Share of lexicon-recognised words that belong to `target` (English-only words weigh 1.5)."""
    target_words = STOPWORDS[target]
    good = bad = 0.0
    for t in tokens(text):
        if t in target_words:
            good += 1
            continue
        langs = [lang for lang in _ALL if lang != target and t in STOPWORDS[lang]]
        if langs:
            bad += 1.5 if langs == ["en"] else 1.0
    return good / (good + bad) if good + bad > 0 else 0.0


def score(meta: dict[str, Any], response: str) -> float:
    """language_share, scaled down when fewer than three target-language words are recognised at all."""
    target = meta["language"]
    n_target = sum(1 for t in tokens(response) if t in STOPWORDS[target])
    return language_share(response, target) * min(1.0, n_target / 3.0)


FAMILY = Family(
    NAME,
    ASPECT,
    make_prompt,
    make_responses,
    score,
    "answer in the requested language (fr/es/de/it/pt) vs in English or another language",
)
