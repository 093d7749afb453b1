import { describe, expect, it } from "vitest";
import { Channel } from "./channel.js";

describe("Channel", () => {
  it("hands items over in order, holds pushers at capacity, and drains after close", async () => {
    const channel = new Channel<number>(1);
    await channel.push(1);
    let second = false;
    const pushing = channel.push(2).then(() => {
      second = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(second).toBe(false);
    expect(await channel.take()).toBe(1);
    await pushing;
    expect(second).toBe(true);
    channel.close();
    expect(await channel.take()).toBe(2);
    expect(await channel.take()).toBeUndefined();
  });

  it("releases a blocked pusher and a waiting taker when closed", async () => {
    const channel = new Channel<number>(1);
    await channel.push(1);
    const blocked = channel.push(2);
    const empty = new Channel<number>(1);
    const waiting = empty.take();
    channel.close();
    empty.close();
    await blocked;
    expect(await waiting).toBeUndefined();
  });
});
