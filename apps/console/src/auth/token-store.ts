// The token lives for the browser tab only: sessionStorage, never localStorage or a cookie.
const KEY = 'plexus.token';

export const storedToken = (): string | null => sessionStorage.getItem(KEY);
export const storeToken = (token: string) => sessionStorage.setItem(KEY, token);
export const forgetToken = () => sessionStorage.removeItem(KEY);
