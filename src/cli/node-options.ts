/**
 * Options node reads wherever they stand on its command line, also after the script's name: node 20 loads
 * the file of any `--env-file…` argument into the process's environment (and a NODE_OPTIONS line in it runs
 * code) before the script starts. bin/rotator.js starts node with `--` first, which ends that scan, so node
 * never reads rotator's arguments; started another way (`node bin/rotator.js doctor --env-file FILE`), node
 * has acted before rotator runs. Either way rotator has no such option: it says so, and what to use instead,
 * rather than run in an environment someone else chose.
 */

/** The stderr line for the first argument node reads as its own, or undefined when there is none. */
export function nodeOptionRefusal(argv: readonly string[]): string | undefined {
  const end = argv.indexOf("--");
  const given = (end === -1 ? argv : argv.slice(0, end)).find((arg) => arg.startsWith("--env-file"));
  if (given === undefined) return undefined;
  const name = given.split("=")[0];
  return (
    `error: ${name} is node's own option (node reads it even after a script's name); rotator has none, and did nothing.\n` +
    "To diagnose the credential in a dotenv file: rotator doctor --dotenv FILE"
  );
}
