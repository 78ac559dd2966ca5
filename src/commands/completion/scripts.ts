/**
 * The completion scripts for bash, zsh and fish, written from the program's command definitions (spec.ts).
 * Each walks the words typed so far the same way: option values are skipped, words naming a subcommand of the
 * command so far extend it (`emulator` then `twilio`); then it offers the value an option takes, the options
 * (after a `-`), or the subcommands and positional values.
 */
import type { CommandSpec, OptionSpec, Values } from "./spec.js";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

export function completionScript(shell: Shell, specs: CommandSpec[]): string {
  switch (shell) {
    case "bash":
      return bashScript(specs);
    case "zsh":
      return zshScript(specs);
    case "fish":
      return fishScript(specs);
  }
}

/** `@files`, `@directories`, or the words (what the shell functions print for a value or a positional). */
function valuesWord(values: Values): string {
  if ("files" in values) return "@files";
  if ("directories" in values) return "@directories";
  return values.words.join(" ");
}

/** A shell single-quoted string (bash and zsh). */
function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The first sentence of a description, on one line, short enough for a menu. */
function short(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  const sentence = line.split(/[;(]/)[0]?.trim() ?? line;
  return sentence.length <= 70 ? sentence : `${sentence.slice(0, 69)}…`;
}

const valueOptions = (specs: CommandSpec[]) =>
  specs.flatMap((spec) =>
    spec.options
      .filter((option): option is OptionSpec & { value: Values } => option.value !== undefined)
      .flatMap((option) => option.flags.map((flag) => ({ path: spec.path, flag, value: option.value }))),
  );

/** The case statements bash and zsh share: subcommands, options, option values and positional values. */
function caseFunctions(specs: CommandSpec[], subcommandLine: (name: string, description: string) => string): string {
  const arm = (pattern: string, body: string) => `  ${quote(pattern)}) ${body} ;;`;
  const print = (text: string) => `printf '%s\\n' ${quote(text)}`;
  return [
    '# The subcommands of command $1 (the words after rotator, e.g. "emulator").',
    "_rotator_subcommands() {",
    '  case "$1" in',
    ...specs
      .filter((spec) => spec.subcommands.length > 0)
      .map((spec) =>
        arm(spec.path, spec.subcommands.map((sub) => print(subcommandLine(sub.name, sub.description))).join("; ")),
      ),
    "  esac",
    "}",
    "# The options of command $1.",
    "_rotator_options() {",
    '  case "$1" in',
    ...specs.map((spec) => arm(spec.path, print(spec.options.flatMap((option) => option.flags).join(" ")))),
    "  esac",
    "}",
    "# What the value of option $2 of command $1 completes to (@files, @directories, or words); status 1 when",
    "# $2 takes no value.",
    "_rotator_value() {",
    '  case "$1 $2" in',
    ...valueOptions(specs).map(({ path, flag, value }) => arm(`${path} ${flag}`, print(valuesWord(value)))),
    "  *) return 1 ;;",
    "  esac",
    "}",
    "# What the positional arguments of command $1 complete to.",
    "_rotator_positional() {",
    '  case "$1" in',
    ...specs
      .filter((spec): spec is CommandSpec & { positional: Values } => spec.positional !== undefined)
      .map((spec) => arm(spec.path, print(valuesWord(spec.positional)))),
    "  esac",
    "}",
  ].join("\n");
}

function bashScript(specs: CommandSpec[]): string {
  return `# rotator completion for bash, from \`rotator completion bash\`.
# Now: source <(rotator completion bash). For every new shell, save it as
# ~/.local/share/bash-completion/completions/rotator (or /etc/bash_completion.d/rotator).
${caseFunctions(specs, (name) => name)}

_rotator() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd="" word sub values i expecting=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    if ((expecting)); then
      expecting=0
      continue
    fi
    if [[ $word == -* ]]; then
      if [[ $word != *=* ]] && _rotator_value "$cmd" "$word" >/dev/null; then expecting=1; fi
      continue
    fi
    for sub in $(_rotator_subcommands "$cmd"); do
      if [[ $sub == "$word" ]]; then
        cmd=\${cmd:+$cmd }$word
        break
      fi
    done
  done
  if ((expecting)); then
    values=$(_rotator_value "$cmd" "\${COMP_WORDS[COMP_CWORD - 1]}")
  elif [[ $cur == -* ]]; then
    values=$(_rotator_options "$cmd")
  else
    values="$(_rotator_subcommands "$cmd") $(_rotator_positional "$cmd")"
  fi
  case $values in
  *@files*)
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    ;;
  *@directories*)
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -d -- "$cur")
    ;;
  *) mapfile -t COMPREPLY < <(compgen -W "$values" -- "$cur") ;;
  esac
}
complete -F _rotator rotator
`;
}

function zshScript(specs: CommandSpec[]): string {
  // _describe takes name:description, a colon in the name escaped.
  const entry = (name: string, description: string) => `${name.replaceAll(":", "\\:")}:${short(description)}`;
  return `#compdef rotator
# rotator completion for zsh, from \`rotator completion zsh\`.
# Now (after compinit): source <(rotator completion zsh). For every new shell, save it as _rotator in a
# directory of $fpath, e.g. ~/.zfunc with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc.
${caseFunctions(specs, entry)}

_rotator() {
  local cmd="" word sub v i expecting=0 ret=1
  local -a subs values
  for ((i = 2; i < CURRENT; i++)); do
    word=\${words[i]}
    if ((expecting)); then
      expecting=0
      continue
    fi
    if [[ $word == -* ]]; then
      if [[ $word != *=* ]] && _rotator_value "$cmd" "$word" >/dev/null; then expecting=1; fi
      continue
    fi
    for sub in \${(f)"$(_rotator_subcommands "$cmd")"}; do
      if [[ \${sub%%:*} == "$word" ]]; then
        cmd=\${cmd:+$cmd }$word
        break
      fi
    done
  done
  if ((expecting)); then
    v=$(_rotator_value "$cmd" "\${words[CURRENT - 1]}")
  elif [[ \${words[CURRENT]} == -* ]]; then
    values=(\${=$(_rotator_options "$cmd")})
    compadd -a values && ret=0
    return ret
  else
    subs=(\${(f)"$(_rotator_subcommands "$cmd")"})
    subs=(\${subs:#})
    ((\${#subs})) && _describe -t commands 'rotator command' subs && ret=0
    v=$(_rotator_positional "$cmd")
  fi
  case $v in
  @files) _files && ret=0 ;;
  @directories) _files -/ && ret=0 ;;
  *)
    values=(\${=v})
    ((\${#values})) && compadd -a values && ret=0
    ;;
  esac
  return ret
}

if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _rotator "$@"
else
  compdef _rotator rotator
fi
`;
}

function fishScript(specs: CommandSpec[]): string {
  const fishQuote = (text: string) => `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  const at = (path: string) => `-n ${fishQuote(`__rotator_at ${fishQuote(path)}`)}`;
  const lines: string[] = [];
  for (const spec of specs) {
    for (const sub of spec.subcommands) {
      lines.push(
        `complete -c rotator ${at(spec.path)} -a ${fishQuote(sub.name)} -d ${fishQuote(short(sub.description))}`,
      );
    }
    for (const option of spec.options) {
      const flags = option.flags
        .map((flag) => (flag.startsWith("--") ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`))
        .join(" ");
      const value =
        option.value === undefined
          ? ""
          : "files" in option.value
            ? " -r -F"
            : "directories" in option.value
              ? " -x -a '(__fish_complete_directories)'"
              : ` -x -a ${fishQuote(option.value.words.join(" "))}`;
      lines.push(`complete -c rotator ${at(spec.path)} ${flags}${value} -d ${fishQuote(short(option.description))}`);
    }
    if (spec.positional !== undefined) {
      lines.push(
        "files" in spec.positional
          ? `complete -c rotator ${at(spec.path)} -F`
          : "directories" in spec.positional
            ? `complete -c rotator ${at(spec.path)} -a '(__fish_complete_directories)'`
            : `complete -c rotator ${at(spec.path)} -a ${fishQuote(spec.positional.words.join(" "))}`,
      );
    }
  }
  const commands = specs.map((spec) => fishQuote(spec.path)).join(" ");
  const values = valueOptions(specs)
    .map(({ path, flag }) => fishQuote(`${path} ${flag}`.trim()))
    .join(" ");
  return `# rotator completion for fish, from \`rotator completion fish\`.
# Now: rotator completion fish | source. For every new shell, save it as ~/.config/fish/completions/rotator.fish.
set -g __rotator_commands ${commands}
set -g __rotator_value_options ${values}

# The command being completed: the words after rotator that name subcommands, e.g. "emulator twilio".
function __rotator_path
    set -l words (commandline -opc)
    set -e words[1]
    set -l path ""
    set -l expecting 0
    for word in $words
        if test $expecting = 1
            set expecting 0
            continue
        end
        if string match -q -- '-*' $word
            if not string match -q -- '*=*' $word; and contains -- (string trim -- "$path $word") $__rotator_value_options
                set expecting 1
            end
            continue
        end
        set -l next (string trim -- "$path $word")
        if contains -- $next $__rotator_commands
            set path $next
        end
    end
    echo $path
end

function __rotator_at
    set -l path (__rotator_path)
    test "$path" = "$argv[1]"
end

complete -c rotator -f
${lines.join("\n")}
`;
}
