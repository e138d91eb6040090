"""What callers say to the front desk, as a JSGF grammar for the offline speech-to-text.

Each utterance is decoded twice, with PocketSphinx's open language model and with this grammar; the
grammar wins only when it fits the audio clearly better (offline_speech.GRAMMAR_MARGIN), so free speech
still gets through while "the nissan leaf" is not heard as "the net sean league". It knows the services,
days and spoken times ("half past ten", "the day after tomorrow"), the common makes and models of the
seeded CRM's catalogue with spoken years, dictated VINs and plates (digits, "oh", "double", letters, the
NATO alphabet) and common names: the words the offline brain's parsers (offline_phrases,
offline_details, agent.dictation) read. Words are spelled as those parsers expect ("bmw", "gmc", "vw").
"""

MODELS = {  # make as callers say it -> its common models (seed_crm's catalogue, spelled as spoken)
    "toyota": "camry | corolla | rav four | prius | highlander | tacoma | tundra | sienna | four runner | avalon |"
              " sequoia | yaris | venza",
    "honda": "civic | accord | cr-v | hr-v | pilot | odyssey | fit | ridgeline | insight | passport",
    "ford": "f one fifty | f two fifty | f three fifty | escape | explorer | fusion | focus | mustang | edge |"
            " expedition | ranger | transit | taurus | flex",
    "chevy | chevrolet": "silverado | equinox | malibu | tahoe | impala | cruze | traverse | suburban | colorado |"
                         " camaro | corvette | blazer | trax | bolt | spark | volt | sonic",
    "nissan": "altima | sentra | rogue | leaf | pathfinder | murano | maxima | frontier | titan | versa | armada |"
              " kicks | juke",
    "jeep": "grand cherokee | cherokee | wrangler | compass | renegade | gladiator | liberty | patriot",
    "subaru": "outback | forester | crosstrek | impreza | legacy | ascent",
    "hyundai": "elantra | sonata | tucson | santa fe | kona | palisade | accent | veloster",
    "kia": "sorento | sportage | optima | soul | forte | telluride | rio | niro | sedona",
    "gmc": "sierra | yukon | acadia | terrain | canyon",
    "dodge": "ram | charger | challenger | durango | grand caravan | journey | dart",
    "ram": "fifteen hundred | twenty five hundred | promaster",
    "volkswagen | vw": "jetta | passat | golf | tiguan | atlas | beetle",
    "mazda": "three | six | miata | cx-five | cx-nine",
    "bmw": "three series | five series | x three | x five",
    "mercedes": "c class | e class",
    "audi": "a four | a six | q five | q seven",
    "lexus": "rx three fifty | es three fifty",
    "tesla": "model three | model s | model y | model x",
    "volvo": "xc ninety | xc sixty",
    "buick": "enclave | encore | lacrosse",
    "cadillac": "escalade",
    "chrysler": "pacifica | three hundred | town and country",
    "acura": "mdx | rdx | tlx",
    "infiniti": "", "mitsubishi": "outlander | lancer | mirage", "mini": "cooper", "porsche": "cayenne | macan",
    "lincoln": "navigator",
}
EXTRA_WORDS = {  # words the grammar uses that PocketSphinx's dictionary lacks: ARPAbet phones
    "rav": "R AE V", "elantra": "EH L AE N T R AH", "impreza": "IH M P R EH Z AH", "crosstrek": "K R AO S T R EH K",
    "tiguan": "T IH G W AA N", "gmc": "JH IY EH M S IY",
    "vw": "V IY D AH B AH L Y UW", "cr-v": "S IY AA R V IY", "hr-v": "EY CH AA R V IY", "cx-five": "S IY EH K S F AY V",
    "cx-nine": "S IY EH K S N AY N", "xc": "EH K S S IY", "rx": "AA R EH K S",
    "mdx": "EH M D IY EH K S", "rdx": "AA R D IY EH K S", "tlx": "T IY EH L EH K S", "promaster": "P R OW M AE S T ER",
    "macan": "M AH K AA N", "veloster": "V EH L AA S T ER",
    "sportage": "S P AO R T IH JH", "venza": "V EH N Z AH",
    "outlander": "AW T L AE N D ER", "ridgeline": "R IH JH L AY N", "yaris": "Y AA R IH S",
}
FIRST_NAMES = ("john james robert michael william david richard joseph thomas charles christopher daniel matthew "
               "anthony mark steven paul andrew joshua kevin brian george ryan eric jason scott frank jack peter "
               "mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy emily michelle "
               "amanda melissa stephanie rebecca laura amy angela anna maria emma olivia")
LAST_NAMES = ("smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez "
              "wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark "
              "ramirez lewis robinson walker young allen king wright scott torres nguyen hill flores green adams "
              "nelson baker hall rivera campbell mitchell carter roberts")
# Weights (/w/) make a branch less likely: a run of letters and digits fits almost any audio, so dictation
# is taken only when the words fit it far better than a phrase, and a bare letter costs more than a NATO word.
NATO = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec "
        "romeo sierra tango uniform victor whiskey x-ray yankee zulu")


def _alternatives(words: str) -> str:
    return " | ".join(words.split())


def _cars() -> str:
    makes = [f"({make}) [{models}]" if models else f"({make})" for make, models in MODELS.items()]
    every_model = " | ".join(models for models in MODELS.values() if models)
    return f"<make_model> = {' | '.join(makes)};\n<model> = {every_model};\n"


_GRAMMAR = """#JSGF V1.0;
grammar desk;
public <utt> = /1/ <request> | /1/ <when> | /1/ <answer> | /1/ <request> <when> | /1/ <info> | /1/ <car_said> |
               /1/ <name_said> | /1/ <which> | /1/ no <request> [not <service>] SPELLED;
<opener> = hi | hey | hello | hi there | okay | so | um | uh | sorry | well | great | perfect | actually | and | also;
<info> = what are your hours [on <day>] | when are you open [on <day>] | how much is [<article>] <service> |
         how much for [<article>] <service> | where are you located | can i talk to a person |
         can i talk to someone | what services do you offer | do i have any appointments |
         when is my next appointment | which <thing> [is it] | which one;
<thing> = day | one | car | appointment | services do you offer;
<request> = [<opener>] [<lead>] [<article>] <service> [please] |
            [<opener>] [<lead>] <action> [my] [<service>] [appointment] [please];
<lead> = i need | i would like | i'd like | can i get | can i book | book | i want | i'd like to book |
         i would like to book | i want to book | i need to | can i | i'd like to | could i get | can you do |
         could you do | book me | i want to;
<article> = an | a | my | the;
<service> = oil change | brake inspection | brakes | tire rotation | wheel alignment | battery | battery test |
            diagnostic | state inspection | alignment | a c service;
<action> = cancel | reschedule | move | book | come in;
<when> = [on | for] <day> [at <time>] [please] | [at] <time> [on <day>] [please];
<day> = <weekday> | next <weekday> | this <weekday> | today | tomorrow | the day after tomorrow;
<weekday> = monday | tuesday | wednesday | thursday | friday | saturday | sunday;
<time> = <hour> [thirty | fifteen | forty five | o'clock] [<part>] | (half | quarter | a quarter) past <hour> [<part>] |
         [a] quarter to <hour> [<part>] | noon | midday;
<part> = in the morning | in the afternoon | a m | p m;
<hour> = one | two | three | four | five | six | seven | eight | nine | ten | eleven | twelve;
<answer> = (yes | yeah | yep | sure | okay) [please | that's right | that's correct | that's it | that works |
           sounds good | book it | cancel it | confirm | thank you | please cancel it] | no [thanks] | that works |
           sounds good | bye | goodbye | that's all | thanks bye | [okay] thanks that's all | thanks bye;
<which> = the one on <day> [at <time>] | the <service> [one] | the first one | the second one | the [<year>] <car>;
<car_said> = [it's | it is | i have | i drive | i've got] [a | an | the | my] [<year>] <car>;
<car> = <make_model> | <model>;
<year> = twenty (<teen> | ten | twenty [<digit>] | oh <digit>) | two thousand [and] (<digit> | ten | <teen>) |
         nineteen (ninety | eighty) [<digit>];
<teen> = eleven | twelve | thirteen | fourteen | fifteen | sixteen | seventeen | eighteen | nineteen;
<spelled> = [my plate is | my vin is | the vin is | the plate is | it's] <char> <char>+;
<char> = /1/ <digit> | /1/ oh | /1/ (double | triple) (<digit> | oh | <letter>) | /0.01/ <letter> | /1/ <nato>;
<digit> = zero | one | two | three | four | five | six | seven | eight | nine;
<letter> = """ + _alternatives("a b c d e f g h i j k l m n o p q r s t u v w x y z") + """;
<nato> = """ + _alternatives(NATO) + """;
<name_said> = (my name is | my name's | this is | it's | i'm | the name is) <first> [<last>];
<first> = """ + _alternatives(FIRST_NAMES) + """;
<last> = """ + _alternatives(LAST_NAMES) + """;
""" + _cars()
# Spelled runs (VINs, plates) fit almost any audio: they are in the grammar only while the agent has asked
# for one (the session says so: OfflineSTTStream.expect_dictation), and even then weighted far down.
FRONT_DESK_GRAMMAR = _GRAMMAR.replace("SPELLED", "")
DICTATION_GRAMMAR = _GRAMMAR.replace("SPELLED", "| /1e-10/ <spelled>")
