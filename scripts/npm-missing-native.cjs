// Prints name@version of each native package the lockfile has for this
// machine (Linux, this CPU, glibc) that `npm ci` left out: npm 9 (Debian
// bookworm's) skips optional packages whose lockfile entry names a `libc`.
const fs = require('fs');
const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
for (const [path, p] of Object.entries(lock.packages || {})) {
  const name = path.slice('node_modules/'.length);
  if (!p.optional || !path.startsWith('node_modules/') || name.includes('node_modules/')) continue;
  if (!(p.os || []).includes('linux') || !(p.cpu || []).includes(process.arch)) continue;
  if (p.libc && !p.libc.includes('glibc')) continue;
  if (!fs.existsSync(path)) console.log(`${name}@${p.version}`);
}
