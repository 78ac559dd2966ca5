/** `rotator completion bash|zsh|fish`: the shell completion script, made from these very command definitions. */
import { Argument, type Command } from "commander";
import type { CommandContext } from "../shared/command-context.js";
import { examples } from "../shared/command-context.js";

/** The shells, here as well as in scripts.ts (which the action loads): commander checks the argument by them. */
const SHELLS = ["bash", "zsh", "fish"] as const;

export function registerCompletionCommand(program: Command, { runtime }: CommandContext): void {
  program
    .command("completion")
    .description("print the shell completion script for bash, zsh or fish (commands, options, values, files)")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices([...SHELLS]))
    .addHelpText(
      "after",
      `
Each script says where to save it so that every new shell has it.
${examples([
  ["source <(rotator completion bash)", "bash, now (~/.bashrc for every shell)"],
  ["rotator completion bash > ~/.local/share/bash-completion/completions/rotator", "bash, for good"],
  ["rotator completion zsh > ~/.zfunc/_rotator", "zsh (with ~/.zfunc in $fpath before compinit)"],
  ["rotator completion fish > ~/.config/fish/completions/rotator.fish", "fish"],
])}`,
    )
    .action(async (shell: (typeof SHELLS)[number]) => {
      const [{ completionSpec }, { completionScript }] = await Promise.all([
        import("./spec.js"),
        import("./scripts.js"),
      ]);
      runtime.stdout.write(completionScript(shell, completionSpec(program)));
    });
}
