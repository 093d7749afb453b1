import { extent, formatTick, linearScale, logScale, type Point, type Scale, smooth } from "./scale";

/** A hand-written SVG line chart: several series overlaid, linear or log y axis, optional smoothing. */

export interface Series {
  name: string;
  points: Point[];
}

const COLORS = ["#1f5fbf", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207", "#be185d"];
const WIDTH = 640;
const HEIGHT = 260;
const PAD = { left: 56, right: 12, top: 10, bottom: 30 };

export function LineChart(props: {
  title: string;
  series: Series[];
  xLabel: string;
  logY?: boolean;
  smoothing?: number;
  formatX?: (value: number) => string;
}) {
  const logY = props.logY ?? false;
  const drawn = props.series.map((s) => ({
    name: s.name,
    points: smooth(
      s.points.filter((p) => Number.isFinite(p.y) && (!logY || p.y > 0)),
      props.smoothing ?? 0,
    ),
  }));
  const all = drawn.flatMap((s) => s.points);
  if (all.length === 0) return <p className="muted">No points to draw{logY ? " on a log scale" : ""}.</p>;
  const [x0, x1] = extent(all.map((p) => p.x));
  const [y0, y1] = extent(all.map((p) => p.y));
  const x = linearScale(x0, x1, PAD.left, WIDTH - PAD.right);
  const y: Scale = logY
    ? logScale(y0, y1 > y0 ? y1 : y0 * 10, HEIGHT - PAD.bottom, PAD.top)
    : linearScale(y0, y1 > y0 ? y1 : y0 + 1, HEIGHT - PAD.bottom, PAD.top);
  const formatX = props.formatX ?? formatTick;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={props.title}>
        <title>{props.title}</title>
        {y.ticks.map((t) => (
          <g key={`y${t}`} className="tick">
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(t)} y2={y(t)} />
            <text x={PAD.left - 4} y={y(t)} textAnchor="end" dominantBaseline="middle">
              {formatTick(t)}
            </text>
          </g>
        ))}
        {x.ticks.map((t) => (
          <text key={`x${t}`} className="tick" x={x(t)} y={HEIGHT - PAD.bottom + 16} textAnchor="middle">
            {formatX(t)}
          </text>
        ))}
        <text className="axis-label" x={WIDTH - PAD.right} y={HEIGHT - 2} textAnchor="end">
          {props.xLabel}
        </text>
        {drawn.map((s, i) => (
          <path
            key={s.name}
            className="series"
            data-series={s.name}
            data-points={s.points.length}
            stroke={COLORS[i % COLORS.length]}
            fill="none"
            strokeWidth={1.5}
            d={s.points
              .map((p, j) => `${j === 0 ? "M" : "L"}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`)
              .join("")}
          />
        ))}
      </svg>
      <figcaption>
        <ul className="legend">
          {drawn.map((s, i) => (
            <li key={s.name}>
              <span className="swatch" style={{ background: COLORS[i % COLORS.length] }} aria-hidden="true" />
              {s.name} ({s.points.length} points)
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
