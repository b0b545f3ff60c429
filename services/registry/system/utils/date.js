// Returns the current date and time: {} -> {date: ISO 8601 string}.
function main() {
    return { date: new Date().toISOString() };
}
