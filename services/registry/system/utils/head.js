// Keeps the first lines of an array: {lines, num (1)} -> {lines}.
function main(params) {
    const lines = Array.isArray(params.lines) ? params.lines : [];
    const num = parseInt(params.num, 10);
    return { lines: lines.slice(0, Number.isNaN(num) ? 1 : Math.max(0, num)) };
}
