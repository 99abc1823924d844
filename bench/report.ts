import { fmt } from './stats.js';

export interface Row {
  [column: string]: string;
}

export function table(rows: Row[]): string {
  if (rows.length === 0) return '';
  const columns = Object.keys(rows[0]!);
  return [`| ${columns.join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${columns.map((c) => row[c] ?? '').join(' | ')} |`)].join('\n');
}

/** A hand-written SVG bar chart: each contender's median time ratio to FLOOR, per delivery mode. */
export function ratioChart(modes: string[], contenders: string[], ratio: (mode: string, contender: string) => number): string {
  const colors = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2'];
  const barWidth = 22;
  const groupGap = 40;
  const height = 260;
  const top = 40;
  const left = 50;
  const maxRatio = Math.max(1.5, ...modes.flatMap((mode) => contenders.map((c) => ratio(mode, c))).filter(Number.isFinite));
  const scale = (value: number) => (value / maxRatio) * (height - top - 40);
  const groupWidth = contenders.length * barWidth + groupGap;
  const width = left + modes.length * groupWidth + 180;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<text x="${left}" y="18" font-size="13" font-weight="bold">Time per stream, ratio to FLOOR (lower is better; median)</text>`,
  ];
  const base = height - 40;
  const floorY = base - scale(1);
  parts.push(`<line x1="${left - 5}" x2="${left + modes.length * groupWidth}" y1="${floorY}" y2="${floorY}" stroke="#888" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${left - 8}" y="${floorY + 4}" text-anchor="end">1×</text>`);
  modes.forEach((mode, m) => {
    const x0 = left + m * groupWidth;
    contenders.forEach((contender, c) => {
      const value = ratio(mode, contender);
      if (!Number.isFinite(value)) return;
      const h = scale(value);
      const x = x0 + c * barWidth;
      parts.push(`<rect x="${x}" y="${base - h}" width="${barWidth - 4}" height="${h}" fill="${colors[c % colors.length]}"/>`);
      parts.push(`<text x="${x + (barWidth - 4) / 2}" y="${base - h - 3}" text-anchor="middle" font-size="9">${fmt(value, 1)}</text>`);
    });
    parts.push(`<text x="${x0 + (contenders.length * barWidth) / 2}" y="${base + 16}" text-anchor="middle">${mode}</text>`);
  });
  contenders.forEach((contender, c) => {
    const y = top + c * 18;
    const x = left + modes.length * groupWidth + 10;
    parts.push(`<rect x="${x}" y="${y - 9}" width="12" height="12" fill="${colors[c % colors.length]}"/>`);
    parts.push(`<text x="${x + 18}" y="${y + 1}">${contender}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
