import { caStep } from "./ca.js";
import { gitRemotesStep } from "./git-remotes.js";
import { gitUserStep } from "./git-user.js";
import { promptStep } from "./prompt.js";
import { providerFilesStep } from "./provider-files.js";
import { skillsStep } from "./skills.js";
import { superviseStep } from "./supervise.js";
import type { ProvisionStep } from "./step.js";
import { workspaceStep } from "./workspace.js";

/** Provisioning, in order: trust first, so every later step could already reach egress. */
export const provisionSteps: readonly ProvisionStep[] = [caStep, workspaceStep, promptStep, providerFilesStep, skillsStep, gitUserStep, gitRemotesStep, superviseStep];
