// Validates .glb files with the Khronos glTF Validator (npm gltf-validator)
// and fails unless every file has 0 errors and 0 warnings. Infos and hints
// are printed, not counted.
//
//   node tools/gltfcheck/validate.mjs FILE.glb...
//
// BODY4D_NODE_MODULES names the folder holding gltf-validator (default
// .deps/node/node_modules, where scripts/setup-export.sh installs it).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const modules = process.env.BODY4D_NODE_MODULES || path.resolve(".deps/node/node_modules");
const require = createRequire(path.join(modules, "_"));
const validator = require("gltf-validator");

let bad = 0;
for (const file of process.argv.slice(2)) {
  const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)), {
    uri: file,
    maxIssues: 0, // report every issue
    externalResourceFunction: () => Promise.reject(new Error("external resources are not expected")),
  });
  const i = report.issues;
  console.log(`${file}: ${i.numErrors} errors, ${i.numWarnings} warnings, ${i.numInfos} infos, ${i.numHints} hints` +
    ` (validator ${report.validatorVersion}; ${report.info ? `${report.info.animationCount} animations, ${report.info.totalVertexCount} vertices` : ""})`);
  for (const m of i.messages) {
    const sev = ["error", "warning", "info", "hint"][m.severity];
    console.log(`  ${sev} ${m.code}: ${m.message} ${m.pointer || ""}`);
  }
  if (i.numErrors > 0 || i.numWarnings > 0) bad++;
}
if (bad > 0) {
  console.error(`gltfcheck: ${bad} file(s) with errors or warnings`);
  process.exit(1);
}
