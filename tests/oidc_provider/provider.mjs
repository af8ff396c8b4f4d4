// A real OpenID Connect provider (the certified `oidc-provider` package) for Mintmark's SSO
// tests. Usage: node provider.mjs CONFIG.json, where the file holds
//   {"port": 5xxxx, "clients": [oidc-provider client metadata...], "accounts": "accounts.json"}
// and the accounts file maps a login to {"email": ..., "groups": [...]}. The accounts file is
// read at every lookup, so a test changes a user's groups between two logins by rewriting it.
// Every client must use PKCE (S256): an authorization request without a code challenge is
// refused, which is how the tests know Mintmark sends one.
import fs from 'node:fs';
import path from 'node:path';
import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const accountsFile = path.resolve(path.dirname(process.argv[2]), config.accounts);
const issuer = `http://127.0.0.1:${config.port}`;

function accounts() {
  return JSON.parse(fs.readFileSync(accountsFile, 'utf8'));
}

const provider = new Provider(issuer, {
  clients: config.clients,
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  cookies: { keys: ['mintmark-test-provider-cookie-key'] },
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: account.email, email_verified: true, groups: account.groups };
      },
    };
  },
});
// Requests come from the browser and from Mintmark's server over plain http on loopback.
provider.proxy = false;

provider.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
