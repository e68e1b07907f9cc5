import { describe, expect, it } from "vitest";
import { inFlightCommand } from "../../../backends/in-flight.js";

// Which processes gc waits for: commands that create a part of a bottle of
// this home, named by the labels labelArgs writes.

const HOME = "0123456789abcdef";

describe("inFlightCommand", () => {
  it("finds a docker run carrying the home's and the bottle's labels", () => {
    const line = ` 4242 docker run -d --name bot-bottle-probe-1a2b3c4d-agent --label bot-bottle.id=probe-1a2b3c4d --label bot-bottle.home=${HOME} --label bot-bottle.role=agent image`;
    expect(inFlightCommand(line, HOME)).toEqual({ pid: 4242, bottleId: "probe-1a2b3c4d", command: line.trim().replace(/^4242 /, "") });
  });

  it("finds a smolvm machine create and a network create written the same way", () => {
    expect(inFlightCommand(`7 smolvm machine create --label bot-bottle.home=${HOME} --label bot-bottle.id=b-1 x`, HOME)?.bottleId).toBe("b-1");
    expect(inFlightCommand(`8 /usr/bin/docker network create --label bot-bottle.id=b-2 --label bot-bottle.home=${HOME} n`, HOME)?.bottleId).toBe("b-2");
  });

  it.each([
    ["another home's command", `9 docker run --label bot-bottle.id=b --label bot-bottle.home=fedcba9876543210 i`],
    ["a home label that only starts like this one", `9 docker run --label bot-bottle.id=b --label bot-bottle.home=${HOME}ff i`],
    ["a query by label, which creates nothing", `9 docker ps -a --filter label=bot-bottle.home=${HOME} --filter label=bot-bottle.id=b`],
    ["a command without the bottle's id", `9 docker volume create --label bot-bottle.home=${HOME} v`],
    ["a line that is not PID ARGS", `docker run --label bot-bottle.id=b --label bot-bottle.home=${HOME}`],
  ])("ignores %s", (_what, line) => expect(inFlightCommand(line, HOME)).toBeNull());
});
