// Replaced by the PostgreSQL test harness (see test/support/postgres.ts).
export default function setup(): void {}
