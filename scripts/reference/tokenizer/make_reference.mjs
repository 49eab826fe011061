// Writes tests/data/tokenizers/reference.json: token ids, decodes and chat renderings produced
// by Hugging Face's JavaScript implementation (transformers.js, which uses @huggingface/tokenizers
// for the tokenizers and @huggingface/jinja for the chat templates) from the tokenizer files in
// tests/data/tokenizers. The C++ tests (tests/common/tokenizer) must reproduce every value.
//
// Run (see README.md next to this file):
//   node make_reference.mjs /path/to/repo/tests/data/tokenizers > reference.json
// Offline: remote model loading is disabled; the .gz files are unpacked into a temp folder.

import { AutoTokenizer, env } from "@huggingface/transformers";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

const DATA = process.argv[2];
if (!DATA) throw new Error("usage: node make_reference.mjs TESTS_DATA_TOKENIZERS_DIR > reference.json");
const MODELS = ["qwen3", "llama3.1"];
const SEED = 20261126;
const RANDOM_TEXTS = 300;
const RANDOM_DECODES = 60;

// ---- deterministic randomness (mulberry32) -------------------------------------------------
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(SEED);
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1)); // inclusive
const pick = (list) => list[randInt(0, list.length - 1)];
const range = (lo, hi) => () => String.fromCodePoint(randInt(lo, hi));

// ---- samples --------------------------------------------------------------------------------
// Hand-written cases: each names the behaviour it pins down.
const NAMED = {
  ascii: "Hello, world! The quick brown fox jumps over the lazy dog.",
  contractions: "I'm sure they'll say it's fine, isn't it? We've DONE it.",
  contractions_mixed_case: "I'M HERE, YOU'RE there; THEY'LL go, it'S he'D she'Ve we'LL 'S 'T 'Re",
  // (?i:'s|...) folds ASCII only: "'ſ" (U+017F) is not a contraction, so "'ſelf" stays one piece.
  contractions_long_s: "it'ſ not 'ſ, nor 'K, it'ſelf 'ſtrange 'ﬅ",
  cjk: "你好，世界！こんにちは世界。안녕하세요",
  emoji_zwj: "I ❤️ 🦀 and 👩🏽‍💻! Family: 👨‍👩‍👧‍👦, flag 🇫🇷, keycap 1️⃣",
  accents_precomposed: "naïve café — résumé, Ångström, Œuvre",
  accents_decomposed: "nai\u0308ve cafe\u0301 re\u0301sume\u0301 A\u030Angstro\u0308m",
  combining_reorder: "a\u0301\u0327 a\u0327\u0301 q\u0307\u0323 \u0301leading mark",
  hangul_jamo: "\u1100\u1161\u11A8 \u1112\u1161\u11AB\u1100\u1173\u11AF \uAC00\u11A8",
  nfc_singletons: "\u212A Kelvin, \u212B Angstrom, \u2126 Ohm, \u0340\u0341 tones, \uFB01 ligature",
  whitespace: "a  b   c    d\n\n\n  e\t\tf   ",
  trailing_spaces: "trailing spaces   ",
  trailing_newlines: "line one\nline two\n\n",
  only_spaces: "     ",
  single_space: " ",
  only_newlines: "\n\n\n",
  crlf: "first line\r\nsecond line\r\n\r\nthird\r",
  tabs: "\tindented\n\t\tdouble\t tab \t",
  // \s is the White_Space property: U+0085 yes; U+180E (PCRE2's \s) and U+FEFF (JavaScript's) no.
  unicode_spaces: "a\u00A0b\u2003c\u3000d\u0085e\u2028f\u202Fg \u205Fh i\u180Ej \u180E k\uFEFFl \uFEFF m a  \u180E b",
  zero_width: "zero\u200Bwidth\u200Djoiner\u2060word",
  // Llama-3 has ignore_merges: these words are vocabulary entries that merging would split.
  ignore_merges: " việc hợp nhiều điều jeho Việt ایران ngoài değiş характер .:.:.:.:.:.:.:.: mektedir lardan",
  digits: "12345678",
  long_number: "31415926535897932384626433832795028841971693993751",
  numbers: "3.14159, 1,000,000 and 2024-07-26; -42 +7 0x1F 1e-9 ١٢٣ ½",
  code_python: "def f(x):\n\tif x:\n\t\treturn x * 2\n\treturn None\n",
  code_cpp: "for (int i = 0; i < n; ++i) {\n    sum += a[i] * b[i];  // dot\n}\n",
  code_json: '{"key": [1, 2.5, null], "nested": {"a": "b\\n"}}',
  markdown: "# Title\n\n- item **bold** _it_\n- `code`\n\n> quote\n",
  url: "https://example.com/path?q=a+b&x=%20y#frag",
  scripts: "Привет мир. Γειά σου. مرحبا بالعالم. שלום עולם. नमस्ते दुनिया. สวัสดีชาวโลก.",
  math: "∀x∈ℝ: x²≥0; ∑ᵢ aᵢ = ∫₀¹ f(t) dt ≈ π/4 ± ε",
  punctuation_runs: "!!!??? ... --- ***\n!!!\n\n;;",
  qwen_specials: "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>",
  qwen_added_nonspecial: "<think>\nreasoning\n</think>\n\n<tool_call>{}</tool_call><|fim_prefix|>",
  llama_specials: "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
  llama_reserved: "<|reserved_special_token_0|><|python_tag|><|eom_id|><|finetune_right_pad_id|>",
  partial_specials: "<|im_start <|im_end| im_end|> <|eot_id <|begin_of_text|",
  adjacent_specials: "<|im_end|><|im_end|>x<|eot_id|><|eot_id|> <|endoftext|> ",
  specials_with_spaces: "  <|im_start|>  spaced  <|im_end|>  ",
  long_word: "a".repeat(300),
  long_spaces: " ".repeat(500) + "x",
  long_digits: "9".repeat(300),
  long_mixed: "ab1 ".repeat(100),
  base64: "TWFueSBoYW5kcyBtYWtlIGxpZ2h0IHdvcmsuIFRoZSBxdWljayBicm93biBmb3gg==",
  empty: "",
};

// Fragments for random strings: each entry returns one piece.
const EMOJI = ["😀", "🦀", "❤️", "👍🏽", "👩‍💻", "🇯🇵", "✨", "🤖", "👨‍👩‍👧", "🏳️‍🌈", "1️⃣", "©️"];
const SPECIAL_BITS = ["<|", "|>", "<|im_end|>", "<|eot_id|>", "<think>", "</think>", "<|endoftext|>", "<|begin_of_text|>"];
const CONTRACTIONS = ["'s", "'S", "'t", "'T", "'re", "'RE", "'ve", "'Ve", "'m", "'M", "'ll", "'LL", "'d", "'D"];
const FRAGMENTS = [
  range(0x61, 0x7a), range(0x61, 0x7a), range(0x41, 0x5a), range(0x30, 0x39), range(0x30, 0x39),
  range(0x21, 0x2f), range(0x3a, 0x40), range(0x5b, 0x60), range(0x7b, 0x7e),
  () => " ", () => " ", () => " ", () => "  ", () => "\n", () => "\n\n", () => "\t", () => "\r\n",
  range(0xc0, 0xff), range(0x100, 0x17f), range(0x300, 0x36f), range(0x391, 0x3c9), range(0x410, 0x44f),
  range(0x5d0, 0x5ea), range(0x621, 0x64a), range(0x905, 0x939), range(0xe01, 0xe30), range(0x4e00, 0x9fa5),
  range(0x4e00, 0x9fa5), range(0x3041, 0x3096), range(0x30a1, 0x30fa), range(0xac00, 0xd7a3), range(0x1100, 0x1112),
  range(0x1161, 0x1175), range(0x11a8, 0x11c2), range(0x2000, 0x200a), () => "\u00a0", () => "\u3000", () => "\u0085",
  range(0x2190, 0x21ff), range(0x2200, 0x22ff), range(0xff01, 0xff5e),
  () => pick(EMOJI), () => pick(EMOJI), () => pick(SPECIAL_BITS), () => pick(CONTRACTIONS), () => pick(CONTRACTIONS),
  () => String(randInt(0, 1e6)), () => "\u200d", () => "\ufe0f",
];
function randomText() {
  const pieces = rand() < 0.1 ? randInt(60, 200) : randInt(1, 40);
  let s = "";
  for (let i = 0; i < pieces; ++i) s += pick(FRAGMENTS)();
  return s;
}

// ---- chat conversations -----------------------------------------------------------------------
const CHATS = [
  { name: "user", user: "What is 2+2?" },
  { name: "system_user", system: "You are a terse assistant.", user: "What is 2+2?" },
  { name: "padded_user", user: "  \n Hello there! \t\n\n" },
  { name: "padded_system", system: "\n  Be brief.  \n", user: "Why is the sky blue?" },
  { name: "empty_system", system: "", user: "hi" },
  { name: "unicode", system: "Réponds en français 🇫🇷", user: "你好！Ça va? 👩🏽‍💻 naïve" },
  { name: "special_in_user", user: "Say <|im_end|> or <|eot_id|> literally" },
  { name: "multiline_user", user: "Line 1\nLine 2\n\n```py\nprint('x')\n```" },
  { name: "user_assistant", user: "What is 2+2?", assistant: "2 + 2 = 4." },
  { name: "system_user_assistant", system: "Answer with one word.", user: "Capital of France?", assistant: "Paris" },
  { name: "assistant_padded", user: "Hi", assistant: "\n\nHello!\n" },
  // @huggingface/jinja's lstrip('\n') strips all white space, Python's only newlines: Qwen3's
  // template would differ from transformers (Python) here, so Qwen3 is left out of this case.
  { name: "assistant_spaces", user: "Hi", assistant: "  Hello!  ", templates: ["llama3", "qwen2.5"] },
  { name: "assistant_think", user: "Think first.", assistant: "<think>\nLet me see.\n\n</think>\n\nThe answer." },
  { name: "assistant_think_unopened", user: "Q", assistant: "reasoning only\n</think>answer" },
  { name: "tool_response_user", user: "<tool_response>42</tool_response>", assistant: "\nNoted." },
];
const TEMPLATES = [
  { template: "llama3", model: "llama3.1", kwargs: {} },
  { template: "qwen3", model: "qwen3", kwargs: { enable_thinking: false } },
  { template: "qwen2.5", model: "qwen3", kwargs: {}, chat_template: "qwen2.5_chat_template.jinja" },
];

// ---- helpers ----------------------------------------------------------------------------------
function unpackModels() {
  const dir = mkdtempSync(join(tmpdir(), "gramrl-tokref-"));
  for (const m of MODELS) {
    mkdirSync(join(dir, m));
    writeFileSync(join(dir, m, "tokenizer.json"), gunzipSync(readFileSync(join(DATA, m, "tokenizer.json.gz"))));
    copyFileSync(join(DATA, m, "tokenizer_config.json"), join(dir, m, "tokenizer_config.json"));
  }
  return dir;
}
const versionOf = (pkg) =>
  JSON.parse(readFileSync(join(process.cwd(), "node_modules", pkg, "package.json"), "utf8")).version;
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// JSON with one value per line, except arrays of numbers or strings, which stay on one line.
function format(value, indent = "") {
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== "object" || v === null)) return JSON.stringify(value);
    if (value.length === 0) return "[]";
    return "[\n" + value.map((v) => inner + format(v, inner)).join(",\n") + "\n" + indent + "]";
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return "{}";
    return "{\n" + entries.map(([k, v]) => inner + JSON.stringify(k) + ": " + format(v, inner)).join(",\n") + "\n" +
      indent + "}";
  }
  return JSON.stringify(value);
}

// ---- main -------------------------------------------------------------------------------------
const modelDir = unpackModels();
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = modelDir + "/";
const tokenizers = {};
for (const m of MODELS) tokenizers[m] = await AutoTokenizer.from_pretrained(m);

const texts = Object.entries(NAMED).map(([name, text]) => ({ name, text }));
for (let i = 0; i < RANDOM_TEXTS; ++i) texts.push({ name: `random_${i}`, text: randomText() });

const samples = [];
for (const { name, text } of texts) {
  const sample = { name, text };
  for (const m of MODELS) {
    const tok = tokenizers[m];
    const ids = tok.encode(text, { add_special_tokens: false });
    const withSpecial = tok.encode(text, { add_special_tokens: true });
    const decode = (list, skip) =>
      list.length ? tok.decode(list, { skip_special_tokens: skip, clean_up_tokenization_spaces: false }) : "";
    // Decoding gives the text back, except that Qwen's NFC normalizer composes characters.
    const decoded = decode(ids, false);
    const normalized = m.startsWith("qwen") ? text.normalize("NFC") : text;
    if (decoded !== normalized) throw new Error(`${m}: ${name} does not round-trip`);
    const entry = { ids };
    if (decoded !== text) entry.decoded = decoded;
    if (!same(ids, withSpecial)) entry.ids_with_special_tokens = withSpecial;
    const skipped = decode(withSpecial, true);
    if (skipped !== decoded) entry.decoded_skip_special = skipped;
    if (!name.startsWith("random_")) {
      const vocab = tok.get_vocab();
      const idToToken = new Map([...vocab].map(([t, i]) => [i, t]));
      entry.pieces = ids.map((i) => idToToken.get(i));
    }
    sample[m] = entry;
  }
  samples.push(sample);
}

// Arbitrary id sequences: their bytes need not be valid UTF-8; the decoder writes U+FFFD.
const decodes = {};
for (const m of MODELS) {
  const tok = tokenizers[m];
  const size = tok.get_vocab().size;
  const list = [];
  for (let i = 0; i < RANDOM_DECODES; ++i) {
    const n = randInt(1, 12);
    const ids = [];
    // Ids 0..255 are single bytes in both vocabularies: they split UTF-8 sequences.
    for (let k = 0; k < n; ++k) {
      const r = rand();
      ids.push(r < 0.15 ? randInt(size - 300, size - 1) : r < 0.5 ? randInt(0, 255) : randInt(0, size - 1));
    }
    list.push({
      ids,
      text: tok.decode(ids, { clean_up_tokenization_spaces: false }),
      text_skip_special: tok.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }),
    });
  }
  decodes[m] = { vocab_size: size, sequences: list };
}

const chats = [];
for (const { template, model, kwargs, chat_template } of TEMPLATES) {
  const tok = tokenizers[model];
  const options = { ...kwargs };
  if (chat_template) options.chat_template = readFileSync(join(DATA, chat_template), "utf8");
  for (const chat of CHATS) {
    if (chat.templates && !chat.templates.includes(template)) continue;
    const messages = [];
    if (chat.system !== undefined) messages.push({ role: "system", content: chat.system });
    messages.push({ role: "user", content: chat.user });
    if (chat.assistant !== undefined) messages.push({ role: "assistant", content: chat.assistant });
    const add_generation_prompt = chat.assistant === undefined;
    const text = tok.apply_chat_template(messages, { ...options, tokenize: false, add_generation_prompt });
    const ids = tok.apply_chat_template(messages, {
      ...options, tokenize: true, return_tensor: false, return_dict: false, add_generation_prompt,
    });
    chats.push({ template, tokenizer: model, name: chat.name, system: chat.system, user: chat.user,
      assistant: chat.assistant, text, ids });
  }
}

rmSync(modelDir, { recursive: true });
const out = {
  generator: {
    script: "scripts/reference/tokenizer/make_reference.mjs",
    node: process.version,
    unicode: process.versions.unicode,
    packages: Object.fromEntries(
      ["@huggingface/transformers", "@huggingface/tokenizers", "@huggingface/jinja"].map((p) => [p, versionOf(p)]),
    ),
    seed: SEED,
  },
  samples,
  decodes,
  chats,
};
process.stdout.write(format(out) + "\n");
