// @ts-check
// The data features of a joined conference page: file transfers (a button
// on each remote tile) and the game mode (a toggle in the controls bar).
// app.js calls attachDataFeatures once per conference; tests reach the
// parts through window.hibikiFiles and window.hibikiGame.

import { FileTransfers, FilesUI } from './files.js';
import { Game } from './game.js';

/**
 * @param {import('./conference.js').Conference} conf
 * @returns {() => void} detaches everything
 */
export function attachDataFeatures(conf) {
  const room = conf.room;
  const files = new FileTransfers(room);
  const nameOf = (/** @type {string} */ sid) => {
    const p = room.participants.get(sid);
    return p ? p.name || p.identity : sid;
  };
  const ui = new FilesUI(files, conf.grid, nameOf);
  const game = new Game(room, conf.mixer, conf.grid.parentElement || document.body);
  const btn = document.createElement('button');
  btn.id = 'btn-game';
  btn.type = 'button';
  btn.title = 'Game mode: move your dot with the arrow keys; voices follow the dots';
  btn.textContent = 'Game';
  btn.setAttribute('aria-pressed', 'false');
  btn.addEventListener('click', () => {
    game.toggle(!game.on);
    btn.setAttribute('aria-pressed', String(game.on));
    btn.textContent = game.on ? 'Stop game' : 'Game';
  });
  document.getElementById('btn-leave')?.before(btn);
  /** @type {any} */
  const hooks = window;
  hooks.hibikiFiles = files;
  hooks.hibikiGame = game;
  return () => {
    btn.remove();
    game.close();
    ui.close();
    files.close();
    hooks.hibikiFiles = null;
    hooks.hibikiGame = null;
  };
}
