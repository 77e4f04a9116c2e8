// The REST client: every call sends the user's token and turns Parley's
// error shape {"error":{code,message}} into an ApiError.

/** ApiError is a failed call; status 0 means the network failed. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** retryable: the request may succeed unchanged later (network, 5xx, 429). */
  get retryable() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/**
 * createApi returns the REST calls the page uses. getToken supplies the
 * bearer token; onUnauthorized runs when the server refuses it.
 */
export function createApi(getToken, onUnauthorized) {
  async function call(method, path, body, file) {
    const headers = {};
    const token = getToken();
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (file) headers['Content-Type'] = file.type || 'application/octet-stream';
    let res;
    let text;
    try {
      res = await fetch(path, { method, headers, body: file || (body === undefined ? undefined : JSON.stringify(body)) });
      text = await res.text();
    } catch (e) {
      throw new ApiError(0, 'network', 'network error: ' + (e && e.message ? e.message : e));
    }
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const err = (data && data.error) || {};
      if (res.status === 401 && token && onUnauthorized) onUnauthorized(err.message || 'signed out');
      throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || res.statusText);
    }
    return { status: res.status, data };
  }
  const enc = encodeURIComponent;
  const msgs = (id) => '/api/messages/' + enc(id);
  return {
    config: () => call('GET', '/api/config'),
    devToken: (user, name) => call('POST', '/dev/token', { user, name }),
    /** devProbe: true when the server has dev sign-in (--dev): an empty request is 422, not 404. */
    devProbe: () => call('POST', '/dev/token', {}).then(() => true, (e) => e.status !== 404 && e.status !== 0),
    conversations: (cursor) => call('GET', '/api/conversations?limit=50' + (cursor ? '&cursor=' + enc(cursor) : '')),
    conversation: (id) => call('GET', '/api/conversations/' + enc(id)),
    createConversation: (ids, title) => call('POST', '/api/conversations', title ? { participant_ids: ids, title } : { participant_ids: ids }),
    history: (id, beforeId) => call('GET', msgs(id) + '?limit=50' + (beforeId ? '&before_id=' + enc(beforeId) : '')),
    /** send posts a message; extra may hold reply_to and attachments. */
    send: (id, body, tempId, extra) => call('POST', msgs(id), { body, client_temp_id: tempId, ...(extra || {}) }),
    react: (id, msgId, emoji, on) => call(on ? 'PUT' : 'DELETE', msgs(id) + '/' + enc(msgId) + '/reactions/' + enc(emoji)),
    settings: (id, patch) => call('PATCH', '/api/conversations/' + enc(id) + '/settings', patch),
    search: (q) => call('GET', '/api/search?q=' + enc(q)),
    upload: (file) => call('POST', '/api/attachments?name=' + enc(file.name || 'file'), undefined, file),
    /**
     * attachment fetches an attachment's bytes with the token in the header
     * (never in a URL, where logs and history would keep it) as a Blob.
     */
    attachment: async (attId) => {
      const res = await fetch('/api/attachments/' + enc(attId), { headers: { Authorization: 'Bearer ' + getToken() } });
      if (!res.ok) throw new ApiError(res.status, 'http_' + res.status, 'attachment ' + res.status);
      return res.blob();
    },
    edit: (id, msgId, body) => call('PATCH', msgs(id) + '/' + enc(msgId), { body }),
    remove: (id, msgId) => call('DELETE', msgs(id) + '/' + enc(msgId)),
    read: (id, msgId) => call('POST', msgs(id) + '/read', { message_id: msgId }),
    delta: (id, afterSeq) => call('GET', msgs(id) + '/delta?limit=200&after_seq=' + afterSeq),
  };
}
