// The page under test, opened from disk: no server, no network.
const path = require('path');
const { pathToFileURL } = require('url');

module.exports.siteUrl = pathToFileURL(path.join(__dirname, 'site', 'index.html')).href;
