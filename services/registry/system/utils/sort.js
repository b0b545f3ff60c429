// Sorts an array of strings: {lines: [...]} -> {lines: sorted, length}.
function main(params) {
    const lines = Array.isArray(params.lines) ? params.lines.slice() : [];
    lines.sort();
    return { lines: lines, length: lines.length };
}
