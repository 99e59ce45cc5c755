//! The words the signals look for, per language, in normalized form (lower case, Greek
//! without accents and with `σ` for the final sigma, Telugu without ZWNJ), with Greeklish
//! and romanized Telugu spellings beside the native ones. Entries are word prefixes unless
//! a list says otherwise.

/// Verbs and nouns of taking money (charged, debited, χρεώσατε, కట్ అయ్యింది).
#[rustfmt::skip]
pub(super) const CHARGE: &[&str] = &[
    // en
    "charg", "overcharg", "bill", "debit", "deduct", "paid", "took", "taken", "take", "withdr",
    "collect", "cut", "gone", "disappear", "came", "went", "left",
    // el
    "χρεω", "χρεο", "πληρωσ", "πληρωθ", "πληρωνω", "κοπηκ", "εκοψ", "κοψατ", "κοψαν", "κοψε",
    "τραβηξ", "τραβηχτ", "πηρατε", "πηραν", "πηρε", "αφαιρεθ", "εισπραξ", "εισεπραξ", "xrew",
    "xreo", "chrew", "plirws", "plhrws", "pliros", "kopik", "kophk", "ekop", "travix", "travhx",
    "pirate", "piran",
    // te
    "కట్", "కట్టా", "కట్టి", "చెల్లించ", "డెబిట్", "ఛార్జ్", "చార్జ్", "ఛార్జీ", "చార్జీ", "వసూల",
    "తీసుకున్న", "తీసుకు", "పడ్డా", "పడింది", "డిడక్ట్", "katt", "chellinch", "teesuk", "tisuk",
    "vasul", "padindi", "paddayi",
];

/// Words that set one amount against another: a quote, a promise, a contrast.
#[rustfmt::skip]
pub(super) const CONTRAST: &[&str] = &[
    // en
    "instead", "rather", "while", "whereas", "though", "although",
    "showed", "shows", "shown", "showing", "displayed", "quoted", "quote", "listed", "advertised",
    "promised", "told", "supposed", "should", "price", "estimate", "calculator", "agreed",
    "expected", "booked", "bank", "statement",
    // el
    "ομωσ", "παρολο", "ελεγε", "λεει", "εγραφε", "γραφει", "αναγραφ",
    "εδειχν", "εδειξ", "δειχνει", "εβλεπα", "evlepa", "ειπαν", "ειπατε", "επρεπε", "τιμη",
    "κοστολογ", "προσφορα", "συμφωνησ", "υπολογισ", "κανονικα", "κρατησα", "εκλεισα",
    "τραπεζα", "kratisa", "ekleisa", "eklisa", "omws", "omos",
    "elege", "egrafe", "grafei", "edeixn", "edixn", "eprepe", "timi", "timh", "eipan", "ipan",
    // te
    "బదులు", "కానీ", "కాని", "అన్నారు", "చూపి", "చెప్పి", "చెప్పా", "ఉండాలి", "రేటు",
    "ప్రైస్", "కోట్", "badulu", "chupinch", "chupist", "cheppi", "chepparu",
    "undali",
];

/// Contrast words that count only as whole words (as prefixes they would catch too much).
#[rustfmt::skip]
pub(super) const CONTRAST_WHOLE: &[&str] = &[
    "but", "yet", "said", "says", "only", "αντι", "ενω", "αλλα", "ειπε", "μονο", "anti", "enw",
    "eno", "alla", "mono", "ani", "kani", "kaani", "rate", "అని", "ధర",
];

/// Currency words and signs that make a number an amount ("12 €", "rs 500", "₹90").
#[rustfmt::skip]
pub(super) const CURRENCY: &[&str] = &[
    "€", "₹", "$", "£", "eur", "euro", "evro", "evrw", "ευρω", "ευρο", "λεπτα", "lepta", "cent",
    "rs", "inr", "rupee", "rupay", "rupai", "rupaay", "ρουπι", "రూపాయ", "రూ", "dollar", "pound",
    "/-",
];

/// Units that make a number something other than money ("2kg", "3 days").
#[rustfmt::skip]
pub(super) const UNITS: &[&str] = &[
    "kg", "kilo", "gr", "g", "cm", "km", "m", "mm", "x", "day", "hour", "week", "month", "min",
    "am", "pm", "th", "st", "nd", "rd", "κιλ", "γραμ", "εκ", "μερ", "ωρ", "εβδομαδ", "μην", "λεπτ",
    "కిలో", "కేజీ", "రోజ", "గంట", "వార", "నెల", "kilo", "roj", "ganta",
];

/// Words of getting in touch (called, emailed, τηλεφώνησα, కాల్ చేశాను).
#[rustfmt::skip]
pub(super) const CONTACT: &[&str] = &[
    // en
    "call", "rang", "ring", "phon", "email", "mail", "messag", "msg", "wrote", "writ", "chat",
    "contact", "ticket", "complain", "reach", "dm", "spoke", "spok", "talked", "ask", "request",
    "reminder", "follow",
    // el
    "τηλεφων", "κληση", "κλησει", "καλεσ", "μηνυμ", "μειλ", "ιμειλ", "email", "mail", "εστειλα",
    "στελνω", "επικοινων", "παραπον", "τσατ", "μιλησα", "μιλαω", "ρωτησα", "ρωταω", "ρωτω", "αιτημ",
    "tilefon", "thlefon", "tilefw", "thlefw", "klisi", "klhsh", "kales", "minim", "mhnym",
    "esteila", "estila", "epikoinon", "epikoinwn", "milisa", "milhsa", "rotisa", "rwtisa", "rwtaw",
    "rotao",
    // te
    "కాల్", "ఫోన్", "మెసేజ్", "మెసేజీ", "మెయిల్", "ఈమెయిల్", "కంప్లైంట్", "ఫిర్యాద", "చాట్",
    "మాట్లాడ", "రాశా", "రాసా", "రాశాను", "సంప్రదించ", "అడిగా", "అడిగిన", "అడుగు", "టికెట్", "phone",
    "message", "mesej", "complaint", "matlad", "maatlad", "rasanu", "raasanu", "adiga", "adigina",
    "adugu", "ticket",
];

/// Writing counts as a contact only with its addressee ("σας γράφω"): alone it may be typing.
#[rustfmt::skip]
pub(super) const WRITE_TO: &[&str] = &[
    "εγραψα", "γραφω", "γραψει", "egrapsa", "grafw", "grafo", "grapsei",
];

/// Words that say the contact came to the customer, not from them ("called me", "μου ήρθε",
/// "నాకు … వచ్చింది").
#[rustfmt::skip]
pub(super) const TO_ME: &[&str] = &[
    "me", "received", "receive", "got", "getting", "ηρθε", "ηρθαν", "ελαβα", "λαμβανω", "vachi",
    "vachindi", "వచ్చ", "నాకు", "naaku",
];

/// Someone other than the customer who calls or rings.
#[rustfmt::skip]
pub(super) const OTHERS: &[&str] = &[
    "courier", "driver", "delivery", "agent", "κουριερ", "διανομε", "οδηγοσ", "kourier", "dianome",
    "కొరియర్", "డ్రైవర్", "డెలివరీ", "courier", "boy",
];

/// Counts of times, as whole words ("three", "τρεις", "మూడు", "moodu").
#[rustfmt::skip]
pub(super) const COUNT: &[&str] = &[
    "twice", "thrice", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "dozen",
    "several", "multiple", "many", "countless", "numerous", "second", "third", "fourth", "fifth",
    "sixth", "2nd", "3rd", "4th", "5th", "6th", "nth", "δυο", "τρεισ", "τρια", "τεσσερισ",
    "τεσσερα", "πεντε", "εξι", "επτα", "εφτα", "οκτω", "οχτω", "δεκα", "πολλεσ", "αμετρητεσ",
    "αρκετεσ", "δευτερη", "τριτη", "τεταρτη", "πεμπτη", "εκτη", "dyo", "dio", "duo", "treis",
    "tris", "tesseris", "pente", "polles", "arketes", "defteri", "deuteri", "triti", "tetarti",
    "pempti", "రెండు", "మూడు", "నాలుగు", "ఐదు", "ఆరు", "పది", "చాలా", "ఎన్నో", "అనేక", "రెండో",
    "మూడో", "నాలుగో", "ఐదో", "rendu", "moodu", "mudu", "naalugu", "nalugu", "aidu", "chala",
    "chaala", "enno", "rendo", "moodo", "mudo", "naalugo", "nalugo", "ఎన్ని", "enni",
];

/// Words for "times" after a count ("five times", "τρεις φορές", "మూడు సార్లు").
#[rustfmt::skip]
pub(super) const TIMES: &[&str] = &[
    "times", "time", "φορεσ", "φορα", "fores", "fora", "సార్లు", "సారి", "సారీ", "sarlu", "saarlu",
    "sari", "saari", "sarlu",
];

/// Telugu counts written as one word with "times" ("మూడుసార్లు", "moodosari").
#[rustfmt::skip]
pub(super) const COUNT_TIMES: &[&str] = &[
    "రెండుసార్లు", "మూడుసార్లు", "నాలుగుసార్లు", "ఐదుసార్లు", "చాలాసార్లు", "ఎన్నోసార్లు",
    "రెండోసారి", "మూడోసారి", "నాలుగోసారి", "ఐదోసారి", "rendusarlu", "moodusarlu", "mudusarlu",
    "naalugusarlu", "chaalasarlu", "chalasarlu", "ennosarlu", "rendosari", "moodosari", "mudosari",
    "naalugosari", "nalugosari", "ఎన్నిసార్లు", "ennisarlu",
];

/// Verbs of seeing, exporting, erasing or correcting what is held.
#[rustfmt::skip]
pub(super) const DATA_ACTION: &[&str] = &[
    // en
    "view", "access", "copy", "export", "download", "delete", "deleting", "deletion", "erase",
    "erasure", "remove", "removal", "wipe", "correct", "rectif", "forget", "obtain", "portab",
    "destroy",
    // el
    "δουμε", "προσβαση", "αντιγραφ", "εξαγωγ", "κατεβασ", "διαγραψ", "διαγραφ", "σβησ", "σβηστ",
    "αφαιρεσ", "διορθωσ", "ξεχασ", "φορητοτητ", "καταστρεψ", "prosvasi", "antigraf", "eksagog",
    "exagog", "diagraps", "diagraf", "svis", "diorthos", "diorthws",
    // te
    "చూడ", "చూపించ", "కాపీ", "ఎక్స్పోర్ట్", "డౌన్లోడ్", "డిలీట్", "తొలగించ", "తీసేయ", "తీసివేయ",
    "ఎరేజ్", "సరిచేయ", "సవరించ", "మర్చిపో", "ఇవ్వండి", "పంపండి", "chuda", "chupinch", "delete",
    "tolagin", "teesey", "tisey", "sarichey",
];

/// What is held about the customer: data, personal details.
#[rustfmt::skip]
pub(super) const DATA_OBJECT: &[&str] = &[
    "data", "personal", "δεδομεν", "προσωπικ", "dedomen", "prosopik", "proswpik", "డేటా", "పర్సనల్",
    "vyaktigat", "వ్యక్తిగత",
];

/// Words for what is held that count only as the customer's own ("my information",
/// "τις πληροφορίες μου", "నా వివరాలు"): alone they ask about anything.
#[rustfmt::skip]
pub(super) const DATA_OBJECT_OWN: &[&str] = &[
    "information", "info", "record", "profile", "details", "πληροφορι", "στοιχει", "προφιλ",
    "pliroforie", "stoixei", "stoixia", "సమాచార", "వివరాల", "రికార్డ", "ప్రొఫైల్", "vivaralu",
    "samacharam",
];

/// "My", "about me": before the noun in English and Telugu, after it in Greek.
#[rustfmt::skip]
pub(super) const MINE: &[&str] = &[
    "my", "me", "mine", "μου", "mou", "μασ", "mas", "నా", "naa", "నాకు",
];

/// Names of the data protection laws and rights.
pub(super) const DATA_LAW: &[&str] = &["gdpr", "dpdp", "γκπδ", "gkpd", "dsar", "డీపీడీపీ", "జీడీపీఆర్"];

/// Where an app or site shows a fault (word prefixes; see also [`SURFACE_WHOLE`]).
/// Surfaces that count only as whole words ("app", not "apply"; "form", not "formal").
pub(super) const SURFACE_WHOLE: &[&str] = &["app", "apps", "form", "forms"];

#[rustfmt::skip]
pub(super) const SURFACE: &[&str] = &[
    "application", "site", "website", "webpage", "page", "screen", "button", "login", "otp",
    "checkout", "portal", "browser", "link", "εφαρμογ", "σελιδ", "ιστοσελιδ", "ιστοτοπ",
    "οθον", "κουμπι", "συνδεσ", "φορμ", "πλατφορμ", "efarmog", "selid", "istoselid", "othon",
    "koumpi", "syndes", "sindes", "యాప్", "అప్లికేషన్", "వెబ్సైట్", "సైట్", "పేజీ", "పేజ్", "బటన్",
    "స్క్రీన్", "లాగిన్", "ఓటీపీ", "లింక్",
];

/// What a fault looks like on screen.
#[rustfmt::skip]
pub(super) const SYMPTOM: &[&str] = &[
    "crash", "freez", "froze", "hang", "spinn", "blank", "loading", "error", "404", "500", "502",
    "503", "glitch", "bug", "unresponsive", "greyed", "grayed", "closes", "shuts", "kicks",
    "timeout", "broken", "white", "κολλα", "κρασαρ", "κλεινει", "πεταει", "πεταξε", "λευκη",
    "ασπρη", "κενη", "φορτων", "σφαλμα", "παγων", "παγωσ", "κρεμα", "χαλασ", "kolla", "krasar",
    "kleinei", "klinei", "petaei", "fortwn", "forton", "sfalma", "pagwn", "pagon", "క్రాష్",
    "హ్యాంగ్", "ఆగిపో", "లోడ్", "ఎర్రర్", "స్టక్", "ఫ్రీజ్", "ఖాళీ", "తెల్ల", "బ్లాంక్", "aagipo",
    "agipo", "stuck",
];

/// "Not" before a verb ("doesn't open", "δεν ανοίγει").
#[rustfmt::skip]
pub(super) const NEGATION: &[&str] = &[
    "not", "doesnt", "dont", "wont", "cant", "cannot", "isnt", "didnt", "couldnt", "unable",
    "never", "δεν", "den", "dn",
];

/// Verbs that fail after a "not" ("won't open", "δεν φορτώνει").
#[rustfmt::skip]
pub(super) const FAILING: &[&str] = &[
    "work", "open", "load", "respond", "accept", "let", "show", "go", "send", "submit", "proceed",
    "move", "click", "ανοιγ", "φορτων", "λειτουργ", "δουλευ", "δεχεται", "αφηνει", "προχωρα",
    "εμφανιζ", "πατιεται", "συνδε", "anoig", "anoi", "fortwn", "forton", "leitourg", "douleu",
    "doulev", "dexetai", "afinei", "proxwra",
];

/// Telugu verbs that failed, written with their negative ending ("ఓపెన్ అవ్వట్లేదు").
pub(super) const FAILED_TE: &[&str] = &["ట్లేదు", "టం లేదు", "tledu", "tledhu", "tam ledu"];

/// Telugu objects of a failing verb (what does not open, load or work).
#[rustfmt::skip]
pub(super) const FAILING_TE: &[&str] = &[
    "ఓపెన్", "లోడ్", "పని", "వర్క్", "సబ్మిట్", "open", "load", "pani", "work",
];

/// Words about the parcel itself: "stuck" and "not moving" then describe the parcel, not the
/// screen.
#[rustfmt::skip]
pub(super) const PARCEL: &[&str] = &[
    "parcel", "package", "shipment", "δεμα", "δεματ", "πακετ", "dema", "paket", "పార్సెల్",
    "ప్యాకేజ్", "parsel",
];
