// A jest testResultsProcessor: writes the run's JSON results (the same object
// `jest --json` prints) to .jest-results.json, so CI can report from them.
const { writeFileSync } = require('node:fs');

module.exports = (results) => {
  writeFileSync('.jest-results.json', JSON.stringify(results));
  return results;
};
