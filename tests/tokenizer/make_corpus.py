#!/usr/bin/env python3
"""Deterministic tokenizer test corpus, written from scratch (no downloads).

    make_corpus.py OUT.jsonl                 the parity corpus: >= 2,000 strings, one JSON
                                             string per line, the last one about 1 MB
    make_corpus.py --english MB OUT.txt      plain English-like prose of MB megabytes (the
                                             encode benchmark's input)

Same output on every run and machine (seeded random.Random, no hash-order dependence).
Categories: English and Chinese prose, Japanese, Korean, Arabic, Hindi, Cyrillic and more
scripts, code in several languages, numbers and long digit runs, whitespace runs, tabs,
CRLF, emoji with ZWJ sequences, combining marks, strings that change under NFC, special
tokens of Qwen and Llama 3 inside text, the empty string, and one 1 MB string.

Only characters assigned before Unicode 14 are used, so the regex engines compared (PCRE2
10.42, Oniguruma 6.9.8, node's ICU) agree on their properties. Three characters are left out
on purpose, because the npm reference (transformers.js, JavaScript regexes) differs from HF
tokenizers (Oniguruma) there; Ember follows Oniguruma, and tests/tokenizer/test_tokenizer.cpp
pins those cases (see docs/tokenizers.md): U+0085 NEL (Oniguruma's \\s includes it,
JavaScript's does not), U+FEFF (the other way round), and U+017F after an apostrophe
(Oniguruma's (?i:'s) matches "'\u017f"; the npm port rewrites the group to [sS]).
"""
import json
import random
import sys

SEED = 20240611

ENGLISH_WORDS = """
the of and to in is was that for it with as his on be at by had are but from or have an they
which one you were all her she there would their we him been has when who will no more if out so
up said what its about than into them can only other time new some could these two may first then
do any like my now over such our man me even most made after also did many before must through
back years where much your way well down should because each just those people how too little
state good very make world still own see men work long get here between both life being under
never day same another know while last might us great old year off come since against go came
right used take three states himself few house use during without again place american around
however home small found thought went say part once general high upon school every don't does got
united left number course war until always away something fact though water less public put think
almost hand enough far took head yet government system better set told nothing night end why
called didn't eyes find going look asked later knew point next program city business give group
toward young days let room president side social present given several order national possible
rather second per face among form important often things looked early white case john become large
big need four within felt along children saw best church ever least power development light seemed
family interest want members mind country area others done turned although open god service certain
kind problem began thing different door help sense whole matter perhaps itself york times law human
line above name example action company hands local show whether five history gave today either act
feet across taken past quite anything seen having death week experience body word half really field
car words already themselves information tell together college shall money period held keep sure
real probably free seems political cannot behind miss question air office making brought whose
special major heard problems ago became federal moment study available known result street economic
boy position reason change south board individual job areas society west close turn love community
true court force full seem art am wife future age voice center woman control common policy necessary
following front sometimes six girl clear further land run students provide feel party able mother
music education university child effect level stood military short town morning total outside rate
figure class art century washington north usually plan leave therefore evidence million sound black
strong hard various says believe type value play surface soon mean near lines table peace modern
tax road red book personal process situation minutes increase idea english alone women gone nor
amount doing fire lost cost building thus especially simply weather tokenizer merges vocabulary
encode decode byte level kernel memory cache thread model layer attention matrix vector
""".split()

ZIPF_CUM = []
for _k in range(len(ENGLISH_WORDS)):
    ZIPF_CUM.append((ZIPF_CUM[-1] if ZIPF_CUM else 0.0) + 1.0 / (_k + 2.7))

RARE_SYLLABLES = "ka lo ri mu zen tal vor quin ex pha dro gly nix bre sto wum yel osk thra ub ce jo".split()

ENGLISH_SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "It's a truth universally acknowledged that a single man in possession of a good fortune must be in want of a wife.",
    "I'm sure you'll agree: we've seen this before, haven't we? They'd said it wasn't possible.",
    "SHE'S HERE, AND THEY'RE NOT! We'LL see, I'D say.",
    "\"Don't,\" he said, \"touch that.\" She didn't listen -- she never did.",
    "Mr. O'Brien's café served crème brûlée on Tuesdays; naïve visitors paid $12.50 (tax incl.).",
    "Call me at (555) 010-9999 or e-mail jane.doe+test@example.com before 5:30 p.m.",
    "Visit https://example.org/path?query=a%20b&lang=en#section-2 for details.",
    "The year 1984 had 366 days; 2023 had 365, and 3.14159 is roughly pi.",
    "  Leading spaces, trailing spaces.   ",
    "Tabs\tseparate\tcolumns\tin\tTSV files.",
    "Windows line endings\r\nare CRLF\r\nwhile Unix uses LF.\n",
    "Hello, world! Hello, World! HELLO, WORLD!",
    "Well... that's that -- isn't it?!",
    "A sentence with an em dash—like this—and an ellipsis…",
    "Quotes: ‘single’, “double”, «guillemets», „low“.",
    "Bullet points:\n- one\n- two\n  - nested\n* star\n",
    "# Heading\n\nSome *emphasis*, **bold**, `code` and [a link](http://x.y).",
    "She said 'yes'. He said 'no'. They said 'maybe'.",
    "rock'n'roll, o'clock, ma'am, y'all, 'tis, '90s, it's, its",
]

CHINESE = [
    "我们今天去公园散步，天气非常好。",
    "机器学习是人工智能的一个分支，它使计算机能够从数据中学习。",
    "北京是中华人民共和国的首都，也是全国的政治、文化中心。",
    "他说：“这个问题很复杂，我们需要更多的时间来研究。”",
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "请在2024年3月15日之前提交你的报告，谢谢！",
    "这家餐厅的菜很好吃，价格也不贵，推荐大家去尝尝。",
    "深度学习模型需要大量的训练数据和计算资源。",
    "中文分词是自然语言处理中的一个基本问题",
    "你好吗？我很好，谢谢。你呢？",
    "长江是中国最长的河流，全长约六千三百公里。",
    "学而时习之，不亦说乎？有朋自远方来，不亦乐乎？",
]

JAPANESE = [
    "今日はとても良い天気ですね。散歩に行きましょう。",
    "東京タワーは東京都港区にある電波塔です。",
    "私はコーヒーが好きですが、紅茶はあまり飲みません。",
    "カタカナとひらがなと漢字を混ぜて書きます。",
    "すみません、駅はどこですか？",
    "ラーメンを食べたい！でもダイエット中なんだよね…",
    "ｶﾀｶﾅ半角とカタカナ全角、ＡＢＣ全角英字と１２３全角数字。",
]

KOREAN = [
    "안녕하세요. 만나서 반갑습니다.",
    "한국어는 한글로 쓰며, 한글은 세종대왕이 만들었습니다.",
    "오늘 저녁에 뭐 먹을까요? 김치찌개 어때요?",
    "서울특별시는 대한민국의 수도입니다.",
]

ARABIC = [
    "مرحبا بالعالم! كيف حالك اليوم؟",
    "اللغة العربية هي إحدى أكثر اللغات انتشاراً في العالم.",
    "ذهبتُ إلى المكتبةِ وقرأتُ كتاباً جميلاً.",
    "الأرقام العربية: ٠١٢٣٤٥٦٧٨٩ والأرقام الغربية: 0123456789",
]

HINDI = [
    "नमस्ते, आप कैसे हैं?",
    "भारत एक विशाल देश है जिसमें अनेक भाषाएँ बोली जाती हैं।",
    "मैं हिंदी सीख रहा हूँ और यह बहुत रोचक है।",
    "संस्कृत एक प्राचीन भाषा है। क्षत्रिय, ज्ञान, श्री।",
]

CYRILLIC = [
    "Привет, мир! Как дела?",
    "Москва — столица России, крупнейший город страны.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Україна, Київ, їжак, ґанок, є.",
    "Бързата кафява лисица прескача мързеливото куче.",
]

OTHER_SCRIPTS = [
    "Γειά σου Κόσμε! Η γρήγορη καφέ αλεπού.",
    "שלום עולם, מה שלומך?",
    "สวัสดีครับ ยินดีที่ได้รู้จัก",
    "Tiếng Việt có nhiều dấu: ă â đ ê ô ơ ư, ví dụ như Hà Nội và Thành phố Hồ Chí Minh.",
    "Türkçe: İstanbul, ılık, şeker, ğ, ç, ö, ü; İI ıi.",
    "Deutsch: Straße, Größe, Übermäßig, Fußgängerübergänge.",
    "Français : « Où est la bibliothèque ? » — À côté de l'église.",
    "Español: ¿Dónde está el baño? ¡Gracias, señor!",
    "Polski: Zażółć gęślą jaźń.",
    "Ελληνικά και English mixed με русский и 中文 together.",
    "ქართული ენა, Հայերեն լեզու, አማርኛ ቋንቋ",
    "தமிழ் மொழி, తెలుగు భాష, ಕನ್ನಡ, മലയാളം, বাংলা ভাষা",
]

CODE = [
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "for i in range(10):\n\tprint(f\"{i:>4}: {i**2}\")\n",
    "#include <iostream>\n\nint main() {\n    std::cout << \"Hello, world!\" << std::endl;\n    return 0;\n}\n",
    "template <typename T>\nstruct Vec { T* data; size_t n; T& operator[](size_t i) { return data[i]; } };",
    "const add = (a, b) => a + b;\nconsole.log(add(2, 3)); // 5\n",
    "fn main() {\n    let v: Vec<i32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}\n",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n",
    "SELECT id, name FROM users WHERE age >= 18 AND name LIKE 'A%' ORDER BY id DESC;",
    "<!DOCTYPE html>\n<html>\n  <body>\n    <p class=\"x\">Hi &amp; bye</p>\n  </body>\n</html>\n",
    "{\"key\": [1, 2.5, -3e10, true, null], \"nested\": {\"a\": \"b\\n\"}}",
    "#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do echo \"$f\"; done\n",
    "x = [i for i in range(100) if i % 3 == 0]  # list comprehension\r\n",
    "if (a != b && c <= d || !e) { return x->y[z++]; }",
    "    indented with four spaces\n        and eight\n\t\tand two tabs\n",
    "public static void main(String[] args) {\n\tSystem.out.println(\"Java\");\n}",
    "\\begin{equation}\n  E = mc^2 \\quad \\sum_{i=0}^{n} x_i\n\\end{equation}",
    "diff --git a/x b/x\n@@ -1,3 +1,3 @@\n-old line\n+new line\n",
    "regex: ^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$",
]

EMOJI = [
    "😀", "😂🤣", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸🇯🇵🇩🇪", "1️⃣2️⃣#️⃣", "❤️", "☺︎", "🧑🏿‍🚀",
    "🚀 launch (normal) 😶‍🌫️ 🫠", "I ❤️ NY 🗽!", "emoji🙂inside🙃words", "🐱‍👤 ninja cat",
    "👩🏻‍❤️‍💋‍👨🏼", "✅ done ❌ failed ⚠️ warning", "🀄🃏🎴",
]

# Text that NFC changes: decomposed letters, singletons, Hangul jamo.
NFC_CHANGES = [
    "e\u0301", "Cafe\u0301", "A\u030A and \u212B (angstrom) and \u00C5", "\u2126 ohm vs \u03A9 omega",
    "n\u0303o", "Zalgo: Z\u0351\u0357\u0311a\u036Bl\u0310g\u0344o\u0360\u0361",
    "\u1112\u1161\u11AB\u1100\u116E\u11A8\u110B\u1165", "Vie\u0323\u0302t Nam",
    "o\u0308\u0304 o\u0304\u0308", "\u0041\u0308\u0301", "q\u0307\u0323", "\u1E9B\u0323",
    "\u0344", "\u0958 \u0915\u093C", "\uFB01 ligature (unchanged by NFC)", "\u00BD \u2153 fractions",
    "a\u0300\u0316\u0317 ordering of marks", "\u304B\u3099 \u304C kana voicing",
]

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>",
                 "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_call>",
                 "</tool_call>", "<|vision_start|>", "<|object_ref_start|>", "<think>", "</think>",
                 "<|box_start|>", "<|quad_end|>", "<|video_pad|>"]
LLAMA_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                  "<|eot_id|>", "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>",
                  "<|reserved_special_token_0|>", "<|reserved_special_token_42|>", "<|reserved_special_token_250|>"]
NEAR_SPECIALS = ["<|im_start", "<|im_end", "im_start|>", "<|", "|>", "<|>", "<||>", "<|unknown|>",
                 "< |im_start| >", "<|IM_START|>", "<<|im_start|>>", "<|im_start|><|im_start|>"]

SPACES = [" ", "  ", "   ", "\t", "\n", "\r\n", "\u00A0", "\u2003", "\u3000", "\u2028", "\x0b", "\x0c",
          "\u180E", "\u200B", "\u202F", "\u205F", "\u1680"]

# Blocks to draw random characters from (all assigned well before Unicode 14).
BLOCKS = [(0x21, 0x7E), (0xA1, 0xFF), (0x100, 0x17E), (0x391, 0x3C9), (0x410, 0x44F), (0x5D0, 0x5EA),
          (0x627, 0x64A), (0x905, 0x939), (0xE01, 0xE2E), (0x3041, 0x3093), (0x30A1, 0x30F6), (0x4E00, 0x9FA5),
          (0xAC00, 0xD7A3), (0x2010, 0x2027), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2500, 0x257F),
          (0x2700, 0x27BF), (0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0xFF01, 0xFF5E), (0x2460, 0x24FF),
          (0x0300, 0x036F), (0x20A0, 0x20BF), (0x1D400, 0x1D4FF)]


def rare_word(rng):
    return "".join(rng.choice(RARE_SYLLABLES) for _ in range(rng.randint(2, 4)))


def english_sentence(rng):
    n = rng.randint(4, 22)
    words = []
    for _ in range(n):
        r = rng.random()
        if r < 0.03:
            words.append(rare_word(rng))
        elif r < 0.05:
            words.append(str(rng.choice([rng.randint(0, 100), rng.randint(1000, 2030), rng.randint(0, 10**7)])))
        else:
            # Zipf-Mandelbrot over the list (roughly in frequency order): "the" about 7%.
            words.append(rng.choices(ENGLISH_WORDS, cum_weights=ZIPF_CUM)[0])
    words[0] = words[0].capitalize()
    s = " ".join(words)
    if rng.random() < 0.3:
        k = rng.randrange(1, len(words))
        s = s.replace(" " + words[k] + " ", " " + words[k] + ", ", 1)
    return s + rng.choice([".", ".", ".", "?", "!", "...", ":", ";"])


def english_paragraph(rng):
    return " ".join(english_sentence(rng) for _ in range(rng.randint(2, 8)))


def random_chars(rng, n):
    out = []
    for _ in range(n):
        lo, hi = rng.choice(BLOCKS)
        out.append(chr(rng.randint(lo, hi)))
    return "".join(out)


def number_string(rng):
    kind = rng.randrange(10)
    if kind == 0:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 300)))
    if kind == 1:
        return f"{rng.randint(0, 10**9):,}.{rng.randint(0, 99):02d}"
    if kind == 2:
        return f"{rng.uniform(-1e6, 1e6):.6f} {rng.uniform(0, 1):.3e}"
    if kind == 3:
        return f"{rng.randint(1, 28)}/{rng.randint(1, 12)}/{rng.randint(1900, 2100)} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    if kind == 4:
        return "abc" + str(rng.randint(0, 10**12)) + "def" + str(rng.randint(0, 999)) + "x"
    if kind == 5:
        return "+1-" + "-".join(str(rng.randint(100, 999)) for _ in range(3))
    if kind == 6:
        return "０１２３ ٣٤٥ ²³¹ ⅫⅣ ① 一二三 ¼"
    if kind == 7:
        return " ".join(str(rng.randint(0, 10**rng.randint(1, 15))) for _ in range(rng.randint(2, 10)))
    if kind == 8:
        return "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(rng.randint(1, 64)))
    return "v" + ".".join(str(rng.randint(0, 20)) for _ in range(3)) + "-rc" + str(rng.randint(1, 9))


def whitespace_string(rng):
    parts = []
    for _ in range(rng.randint(1, 8)):
        parts.append(rng.choice(SPACES) * rng.randint(1, 12))
        if rng.random() < 0.6:
            parts.append(rng.choice(["word", "x", "Hello", "世界", "42", ".", "\u00e9", "😀", "a b"]))
    return "".join(parts)


def special_string(rng):
    specials = QWEN_SPECIALS + LLAMA_SPECIALS + NEAR_SPECIALS
    parts = []
    for _ in range(rng.randint(1, 6)):
        r = rng.random()
        if r < 0.45:
            parts.append(rng.choice(specials))
        elif r < 0.7:
            parts.append(english_sentence(rng))
        elif r < 0.85:
            parts.append(rng.choice(["\n", " ", "", "\n\n", "user\n", "assistant\n", "system\n"]))
        else:
            parts.append(rng.choice(CHINESE))
    return "".join(parts)


def chat_string(rng):
    turns = []
    for _ in range(rng.randint(1, 4)):
        role = rng.choice(["system", "user", "assistant"])
        turns.append(f"<|im_start|>{role}\n{english_paragraph(rng)}<|im_end|>\n")
    if rng.random() < 0.5:
        return "".join(turns) + "<|im_start|>assistant\n"
    body = english_sentence(rng)
    return f"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{body}<|eot_id|>"


def mixed_string(rng):
    pools = [ENGLISH_SENTENCES, CHINESE, JAPANESE, KOREAN, ARABIC, HINDI, CYRILLIC, OTHER_SCRIPTS, CODE, EMOJI,
             NFC_CHANGES]
    return rng.choice(["", " ", "\n", " | "]).join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(2, 5)))


def apostrophe_string(rng):
    subjects = ["it", "IT", "He", "she", "they", "We", "you", "I", "John", "dog", "x", "1", "😀", "中"]
    tails = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'D", "'", "''",
             "'x", "’s", "'sam", "'tis", "'d've", "'ll'"]
    return " ".join(rng.choice(subjects) + rng.choice(tails) + rng.choice(["", " ", "!", "s", "\n"])
                    for _ in range(rng.randint(1, 6)))


def long_word(rng):
    kind = rng.randrange(7)
    n = rng.randint(50, 2000)
    if kind == 0:
        return rng.choice("abcxyz") * n
    if kind == 1:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/") for _ in range(n))
    if kind == 2:
        return "".join(rng.choice(CHINESE[rng.randrange(len(CHINESE))].strip("，。！？：“”")) for _ in range(n // 4))
    if kind == 3:
        return "😀" * (n // 10) + "👨‍👩‍👧‍👦" * (n // 50)
    if kind == 4:
        return "-" * n
    if kind == 5:
        return " " * n + "x"
    return "https://example.com/" + "/".join(rare_word(rng) for _ in range(n // 20))


def control_string(rng):
    chars = [chr(c) for c in list(range(0, 32)) + [127] + list(range(0x80, 0xA0)) if c != 0x85]
    chars += ["\uFFFD", "\uE000", "\U0010FFFD", "\U0001D11E", "\u200D", "\u200C", "\u2060", "\u00AD"]
    return "".join(rng.choice(chars + list("ab ")) for _ in range(rng.randint(1, 30)))


def make_corpus():
    rng = random.Random(SEED)
    out = [""]
    fixed = (ENGLISH_SENTENCES + CHINESE + JAPANESE + KOREAN + ARABIC + HINDI + CYRILLIC + OTHER_SCRIPTS + CODE +
             EMOJI + NFC_CHANGES + QWEN_SPECIALS + LLAMA_SPECIALS + NEAR_SPECIALS + SPACES)
    out += fixed
    out += [s + "\n" for s in fixed[:60]]
    gens = [
        (english_sentence, 300), (english_paragraph, 150), (lambda r: r.choice(CHINESE) + r.choice(CHINESE), 80),
        (mixed_string, 250), (lambda r: random_chars(r, r.randint(1, 40)), 250), (number_string, 200),
        (whitespace_string, 200), (special_string, 150), (chat_string, 60), (apostrophe_string, 120),
        (long_word, 40), (control_string, 60),
        (lambda r: "\n".join(r.choice(CODE) for _ in range(r.randint(1, 3))).replace("\n", r.choice(["\n", "\r\n"])), 80),
        (lambda r: "".join(r.choice(NFC_CHANGES) + r.choice(SPACES) for _ in range(r.randint(1, 4))), 80),
        (lambda r: " ".join(r.choice(EMOJI) for _ in range(r.randint(1, 6))), 60),
    ]
    for gen, count in gens:
        out += [gen(rng) for _ in range(count)]
    # One string of about 1 MB mixing everything.
    big, size = [], 0
    while size < 1_048_576:
        piece = rng.choice([english_paragraph, mixed_string, special_string, number_string, whitespace_string])(rng)
        piece += rng.choice(["\n", "\n\n", " ", "\r\n"])
        big.append(piece)
        size += len(piece.encode("utf-8"))
    out.append("".join(big))
    return out


def english_text(megabytes):
    rng = random.Random(SEED + 1)
    parts, size = [], 0
    target = int(megabytes * 1_000_000)
    while size < target:
        p = english_paragraph(rng) + "\n\n"
        parts.append(p)
        size += len(p)
    return "".join(parts)


def main(argv):
    if len(argv) == 4 and argv[1] == "--english":
        with open(argv[3], "w", encoding="utf-8", newline="") as f:
            f.write(english_text(float(argv[2])))
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    corpus = make_corpus()
    with open(argv[1], "w", encoding="utf-8", newline="\n") as f:
        for s in corpus:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    print(f"{len(corpus)} strings, {sum(len(s.encode('utf-8')) for s in corpus)} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
