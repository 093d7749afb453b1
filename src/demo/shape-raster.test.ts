import { describe, expect, it } from "vitest";
import { createRng } from "./prng.js";
import { renderScene, SHAPE_KINDS, type ShapeSpec, shapeBox } from "./shape-raster.js";

const BG = [200, 200, 200] as const;
const INK = [10, 40, 90] as const;

function render(shape: ShapeSpec) {
  const size = 32;
  const pixels = renderScene(
    { size, background: { kind: "solid", color: BG }, noise: 0, shapes: [shape] },
    createRng(1),
  );
  const at = (x: number, y: number) =>
    Array.from(pixels.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));
  return { at, box: shapeBox(shape, size), size };
}

describe("renderScene", () => {
  it.each(SHAPE_KINDS)("keeps every %s pixel inside its box and fills its centre", (kind) => {
    const { at, box, size } = render({ kind, cx: 15.3, cy: 17.1, radius: 9, rotation: 0.4, color: INK });
    let inked = 0;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = x >= box.x && x < box.x + box.w && y >= box.y && y < box.y + box.h;
        const touched = at(x, y).some((v, c) => v !== BG[c]);
        if (!inside) expect(touched, `pixel ${x},${y} outside ${JSON.stringify(box)}`).toBe(false);
        if (touched) inked++;
      }
    }
    expect(at(15, 17)).toEqual([...INK]);
    expect(inked).toBeGreaterThan(40);
    expect(box.w).toBeLessThanOrEqual(19);
  });

  it("leaves the inside of an outlined shape as background", () => {
    const { at } = render({ kind: "circle", cx: 16, cy: 16, radius: 10, rotation: 0, color: INK, stroke: 2 });
    expect(at(16, 16)).toEqual([...BG]);
    expect(at(16, 7)).toEqual([...INK]);
  });
});
