// Reference ids for the tokenizer parity test, from the HF tokenizers port on npm
// (@lenml/tokenizers, a fork of transformers.js). Installed by `npm ci` from the repo's
// package.json.
//
//   node tests/tokenizer/reference_ids.mjs TOKENIZER_JSON CORPUS OUT [TOKENIZER_CONFIG]
//
// CORPUS: one JSON string per line. OUT: for each, the ids of encode(text,
// {add_special_tokens: false}) space-separated, one line each (empty line for no ids).
// TOKENIZER_CONFIG defaults to tokenizer_config.json beside TOKENIZER_JSON, if present.
import fs from "node:fs";
import path from "node:path";
import { TokenizerLoader } from "@lenml/tokenizers";

const [tokPath, corpusPath, outPath, configArg] = process.argv.slice(2);
if (!outPath) {
  console.error("usage: reference_ids.mjs TOKENIZER_JSON CORPUS OUT [TOKENIZER_CONFIG]");
  process.exit(2);
}
const configPath = configArg ?? path.join(path.dirname(tokPath), "tokenizer_config.json");
const tokenizerJSON = JSON.parse(fs.readFileSync(tokPath, "utf8"));
const tokenizerConfig = fs.existsSync(configPath) ? JSON.parse(fs.readFileSync(configPath, "utf8")) : {};
// The class only matters for chat templates and padding; the encode pipeline comes from
// tokenizer.json. Avoid the "unknown class" warning for classes the port lacks.
delete tokenizerConfig.chat_template;
const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });

const lines = fs.readFileSync(corpusPath, "utf8").split("\n");
if (lines.at(-1) === "") lines.pop();
const out = [];
for (const line of lines) {
  const text = JSON.parse(line);
  out.push(tokenizer.encode(text, { add_special_tokens: false }).join(" "));
}
fs.writeFileSync(outPath, out.join("\n") + (out.length ? "\n" : ""));
