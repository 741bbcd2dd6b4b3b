export { OPTIONS, optionNames, optionSpec, type OptionName, type OptionSpec, type OptionType } from './table.js';
export { optionDefault, parseDuration, parseOption, parseSize, parseWholeNumber, type OptionValue } from './parse.js';
