// Joins an array of strings into one: {lines} -> {payload: lines joined with "\n", lines}.
function main(params) {
    const lines = Array.isArray(params.lines) ? params.lines : [];
    return { payload: lines.join('\n'), lines: lines };
}
