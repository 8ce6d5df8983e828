// An MCP client built on the official TypeScript SDK (@modelcontextprotocol/sdk), driven by
// tests/e2e/test_js_clients.py against a real `ostiary serve`.
//
//   node ts_sdk_client.mjs NODE_MODULES MCP_URL REDIRECT_URI EXPIRY_SLACK_SECONDS
//
// It talks JSON lines. On stdout: {"authorize": URL} when the person must sign in (the test
// answers Ostiary's pages and writes back the URL the browser was sent to, on stdin), and
// {"step": NAME, "ok": BOOL, ...details} for every step, then {"done": true}.
//
// Everything OAuth is the SDK's own: StreamableHTTPClientTransport reads the 401, discovers the
// protected-resource and authorization-server metadata, registers, builds the authorization
// URL with PKCE, redeems the code, refreshes on a 401 after the access token expired, and asks
// for more scopes on a 403 insufficient_scope. The provider below only stores what it is given.
//
// One thing this provider does that a minimal one would not: when the server answers 403
// insufficient_scope it forgets its refresh token before the SDK reacts. SDK 1.x otherwise
// refreshes (which cannot widen a grant, RFC 6749 §6), gets the same 403 and gives up
// ("Server returned 403 after trying upscoping"; typescript-sdk issue #2255).

import path from "node:path";
import readline from "node:readline";
import { pathToFileURL } from "node:url";

const [modules, mcpUrl, redirectUri, slack] = process.argv.slice(2);
const sdk = (file) =>
  import(pathToFileURL(path.join(modules, "@modelcontextprotocol/sdk/dist/esm", file)).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
const { UnauthorizedError } = await sdk("client/auth.js");

const emit = (record) => process.stdout.write(JSON.stringify(record) + "\n");
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

class MemoryProvider {
  constructor() {
    this.client = undefined;
    this.saved = []; // every token set the SDK saved, in order
    this.authorizations = []; // every authorization URL the SDK built
    this.discovery = undefined;
    this.verifier = undefined;
  }
  get redirectUrl() {
    return redirectUri;
  }
  get clientMetadata() {
    return {
      client_name: "TypeScript SDK client (e2e)",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state() {
    this.lastState = crypto.randomUUID();
    return this.lastState;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info) {
    this.client = info;
  }
  tokens() {
    return this.saved.at(-1);
  }
  saveTokens(tokens) {
    this.saved.push({ ...tokens, saved_at: Date.now() });
  }
  forgetRefreshToken() {
    const current = this.saved.at(-1);
    if (current?.refresh_token) this.saved.push({ ...current, refresh_token: undefined });
  }
  redirectToAuthorization(url) {
    this.authorizations.push(url.href);
    emit({ authorize: url.href });
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
}

const provider = new MemoryProvider();

// The transport's fetch: records each answer's status, and applies the 403 rule above.
const statuses = [];
async function observedFetch(input, init) {
  const response = await fetch(input, init);
  statuses.push(`${init?.method ?? "GET"} ${new URL(String(input)).pathname} ${response.status}`);
  const challenge = response.headers.get("www-authenticate") ?? "";
  if (response.status === 403 && challenge.includes('error="insufficient_scope"')) {
    provider.forgetRefreshToken();
  }
  return response;
}

/** Wait for the test to answer the sign-in; the authorization code from the redirect. */
async function codeFromRedirect() {
  const { value, done } = await lines.next();
  if (done) throw new Error("stdin closed before the redirect arrived");
  const redirect = new URL(value.trim());
  const query = Object.fromEntries(redirect.searchParams);
  if (query.error) throw new Error(`authorization refused: ${value}`);
  if (query.state !== provider.lastState) throw new Error(`state mismatch: ${value}`);
  // RFC 9207: the redirect names the authorization server discovery found
  const issuer = provider.discovery?.authorizationServerMetadata?.issuer;
  if (query.iss !== issuer) throw new Error(`iss ${query.iss} is not ${issuer}`);
  return query.code;
}

/** Run `operation`; when the SDK needs the person (UnauthorizedError), finish and retry once. */
async function withSignIn(transport, operation) {
  try {
    return await operation();
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    await transport.finishAuth(await codeFromRedirect());
    return await operation();
  }
}

async function step(name, run) {
  try {
    const details = (await run()) ?? {};
    emit({ step: name, ok: true, ...details });
  } catch (error) {
    emit({ step: name, ok: false, error: String(error?.stack ?? error), statuses });
    throw error;
  }
}

const scopesOf = (url) => (new URL(url).searchParams.get("scope") ?? "").split(" ").filter(Boolean);
const textOf = (result) => result.content.map((c) => c.text ?? "").join("");

const client = new Client({ name: "ostiary-e2e-ts-sdk", version: "1.0.0" });
let transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
  authProvider: provider,
  fetch: observedFetch,
});

try {
  await step("discovery, registration, authorization, token", async () => {
    try {
      await client.connect(transport);
      throw new Error("connected without signing in");
    } catch (error) {
      if (!(error instanceof UnauthorizedError)) throw error;
    }
    await transport.finishAuth(await codeFromRedirect());
    // a fresh transport, as after a real browser round trip
    transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
      authProvider: provider,
      fetch: observedFetch,
    });
    await client.connect(transport);
    return {
      authorization_server: provider.discovery?.authorizationServerUrl,
      resource: provider.discovery?.resourceMetadata?.resource,
      client_id: provider.client?.client_id,
      authorization_url: provider.authorizations[0],
      token_scope: provider.tokens()?.scope,
      has_refresh_token: Boolean(provider.tokens()?.refresh_token),
      server: client.getServerVersion(),
      requests: [...statuses],
    };
  });

  await step("tools/list", async () => {
    const { tools } = await client.listTools();
    return { tools: tools.map((t) => t.name).sort() };
  });

  await step("tools/call with step-up on 403", async () => {
    const before = provider.authorizations.length;
    const added = await withSignIn(transport, () =>
      client.callTool({ name: "add_note", arguments: { title: "from ts", body: "hello" } }),
    );
    const listed = await client.callTool({ name: "list_notes", arguments: {} });
    return {
      added: textOf(added),
      is_error: Boolean(added.isError),
      listed: textOf(listed),
      new_authorizations: provider.authorizations.length - before,
      step_up_scopes: scopesOf(provider.authorizations.at(-1)),
      token_scope: provider.tokens()?.scope,
    };
  });

  await step("refresh after expiry", async () => {
    // past the token's lifetime and the resource server's clock-skew allowance
    const expired = provider.tokens();
    const expiry = expired.saved_at + (expired.expires_in + Number(slack)) * 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiry - Date.now())));
    const before = provider.authorizations.length;
    const savedBefore = provider.saved.length;
    const listed = await client.callTool({ name: "list_notes", arguments: {} });
    const now = provider.tokens();
    return {
      listed: textOf(listed),
      new_authorizations: provider.authorizations.length - before,
      new_token_sets: provider.saved.length - savedBefore,
      access_token_changed: now.access_token !== expired.access_token,
      refresh_token_rotated: Boolean(now.refresh_token) && now.refresh_token !== expired.refresh_token,
      statuses: statuses.slice(-4),
    };
  });
  emit({ done: true });
} finally {
  await transport.close().catch(() => {});
  lines.return?.();
  process.stdin.destroy();
}
