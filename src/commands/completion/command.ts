/** `rotator completion bash|zsh|fish`: the shell completion script, made from these very command definitions. */
import { Argument } from "commander";
import { defineCommand } from "../shared/define-command.js";

/** The shells, here as well as in scripts.ts (which the action loads): commander checks the argument by them. */
const SHELLS = ["bash", "zsh", "fish"] as const;

type Shell = (typeof SHELLS)[number];

const isShell = (value: string | undefined): value is Shell => SHELLS.some((shell) => shell === value);

export const completionCommand = defineCommand<Record<string, never>>({
  name: "completion",
  description: "print the shell completion script for bash, zsh or fish (commands, options, values, files)",
  commonOptions: "none",
  fleet: undefined,
  notifies: [],
  changesStores: false,
  configure: (command) => command.addArgument(new Argument("<shell>", "bash, zsh or fish").choices([...SHELLS])),
  help: `
Each script says where to save it so that every new shell has it.
`,
  examples: [
    ["source <(rotator completion bash)", "bash, now (~/.bashrc for every shell)"],
    ["rotator completion bash > ~/.local/share/bash-completion/completions/rotator", "bash, for good"],
    ["rotator completion zsh > ~/.zfunc/_rotator", "zsh (with ~/.zfunc in $fpath before compinit)"],
    ["rotator completion fish > ~/.config/fish/completions/rotator.fish", "fish"],
  ],
  async run({ args: [shell], context: { runtime }, command }) {
    // commander has checked the argument against the choices; the program is this command's parent.
    if (!isShell(shell) || command.parent === null) return;
    const [{ completionSpec }, { completionScript }] = await Promise.all([import("./spec.js"), import("./scripts.js")]);
    runtime.stdout.write(completionScript(shell, completionSpec(command.parent)));
  },
});
