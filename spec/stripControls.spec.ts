import { createControlStripper, stripControls } from '../src/cli/stripControls.js';

const ESC = '\x1b';

describe('stripControls', () => {
  it.each([
    ['removes clear screen and cursor moves (CSI)', `a${ESC}[2J${ESC}[H${ESC}[1;31mb${ESC}[0m`, 'ab'],
    ['removes a window title (OSC ended by BEL)', `a${ESC}]0;owned\x07b`, 'ab'],
    ['removes an OSC 52 clipboard write (ended by ST)', `a${ESC}]52;c;ZWNobyBvd25lZA==${ESC}\\b`, 'ab'],
    ['removes an OSC 8 link, keeping its visible text', `${ESC}]8;;https://evil.test${ESC}\\click${ESC}]8;;${ESC}\\`, 'click'],
    ['removes DCS, APC and PM strings', `a${ESC}Pq#0${ESC}\\b${ESC}_x${ESC}\\c${ESC}^y${ESC}\\d`, 'abcd'],
    ['removes two- and three-byte ESC sequences', `a${ESC}cb${ESC}(Bc${ESC}7d`, 'abcd'],
    ['removes 8-bit C1 forms: CSI, OSC, NEL', 'a\u009b2Jb\u009d0;t\u0007c\u0085d', 'abcd'],
    ['removes other C0 controls and DEL, carriage returns included', 'a\x00\x07\x08b\rc\x7fd\x0c', 'abcd'],
    ['keeps line feeds and tabs', 'line 1\r\n\tline 2\n', 'line 1\n\tline 2\n'],
    ['removes a sequence aborted by CAN', `a${ESC}[12\x18b`, 'ab'],
    ['keeps a non-ASCII character that ends an ESC sequence', `a${ESC}é`, 'aé'],
    ['keeps text with no control at all', 'café, 中文, 🚀', 'café, 中文, 🚀'],
  ])('%s', (_what, input, expected) => {
    expect(stripControls(input)).toBe(expected);
  });

  it('removes a sequence split across pieces, whatever the split', () => {
    const text = `Hi ${ESC}]52;c;ZXZpbA==${ESC}\\there ${ESC}[31mred${ESC}[0m \u009b1mbold\n`;
    for (let cut = 0; cut <= text.length; cut++) {
      for (let second = cut; second <= text.length; second++) {
        const strip = createControlStripper();
        const pieces = [text.slice(0, cut), text.slice(cut, second), text.slice(second)];
        expect(pieces.map(strip).join('')).toBe('Hi there red bold\n');
      }
    }
  });

  it('never lets an escape character through, whatever the input', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = ['\x1b', '[', ']', '\\', '\x07', '\x9b', '\x9d', '\x9c', 'P', '_', 'a', '1', ';', '\r', '\n', 'é'];
    for (let run = 0; run < 500; run++) {
      const strip = createControlStripper();
      let out = '';
      for (let piece = 0; piece < 5; piece++) {
        let text = '';
        for (let k = 0; k < 8; k++) text += alphabet[Math.floor(random() * alphabet.length)];
        out += strip(text);
      }
      expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    }
  });
});
