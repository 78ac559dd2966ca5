/**
 * Every command of the CLI, in the order `rotator --help` lists them: one definition per folder of
 * src/commands/ (its command.ts), checked against the folders by test/unit/command-registry.test.ts.
 * Adding a command means its folder and one line here.
 */
import { completionCommand } from "./completion/command.js";
import { doctorCommand } from "./doctor/command.js";
import { emulatorCommand } from "./emulator/command.js";
import { initCommand } from "./init/command.js";
import { planCommand } from "./plan/command.js";
import { resumeCommand } from "./resume/command.js";
import { rollbackCommand } from "./rollback/command.js";
import { rotateCommand } from "./rotate/command.js";
import { scheduleCommand } from "./schedule/command.js";
import type { CommandDefinition } from "./shared/define-command.js";
import { statusCommand } from "./status/command.js";
import { syncCommand } from "./sync/command.js";
import { validateCommand } from "./validate/command.js";
import { versionCommand } from "./version/command.js";
import { watchCommand } from "./watch/command.js";

export const COMMANDS: readonly CommandDefinition[] = [
  planCommand,
  rotateCommand,
  resumeCommand,
  rollbackCommand,
  statusCommand,
  syncCommand,
  doctorCommand,
  watchCommand,
  scheduleCommand,
  initCommand,
  validateCommand,
  versionCommand,
  emulatorCommand,
  completionCommand,
];

/** Folders of src/commands/ that hold what several commands share, not a command. */
export const SHARED_FOLDERS = ["shared"] as const;
