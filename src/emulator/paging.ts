/**
 * Twilio's two list envelopes. api v2010 puts paging fields beside the list with relative `*_uri`s;
 * v1 APIs put them in `meta` with absolute `*_url`s and name the list in `meta.key`. Absolute URLs use the
 * emulator's own origin, so the official client follows them back here.
 *
 * Next pages carry a PageToken holding the creation sequence of the last item shown: deleting items
 * between page fetches neither repeats nor skips any.
 */
import { badParameter } from "./errors.js";

export interface PageQuery {
  pageSize: number;
  page: number;
  pageToken: string | undefined;
}

export interface Paged<T> {
  items: T[];
  query: PageQuery;
  /** Index of the first item on this page in the whole list, as Twilio reports it. */
  start: number;
  /** Token for the next page, or undefined on the last page. */
  nextToken: string | undefined;
}

const DEFAULT_PAGE_SIZE = 50;

/** PageSize and Page arrive already checked against the spec (integers within bounds). */
export function pageQuery(query: Readonly<Record<string, string>>): PageQuery {
  const pageSize = query.PageSize === undefined ? DEFAULT_PAGE_SIZE : Number(query.PageSize);
  const page = query.Page === undefined ? 0 : Number(query.Page);
  return { pageSize, page, pageToken: query.PageToken };
}

export function paginate<T extends { seq: number }>(all: readonly T[], query: PageQuery): Paged<T> {
  let rest: readonly T[];
  if (query.pageToken === undefined) {
    rest = all.slice(query.page * query.pageSize);
  } else {
    const after = /^PT(\d+)$/.exec(query.pageToken)?.[1];
    if (after === undefined) throw badParameter("Invalid value for PageToken in the query string");
    rest = all.filter((item) => item.seq > Number(after));
  }
  const items = rest.slice(0, query.pageSize);
  const last = items.at(-1);
  return {
    items,
    query,
    start: query.page * query.pageSize,
    nextToken: rest.length > items.length && last ? `PT${last.seq}` : undefined,
  };
}

type Filters = ReadonlyArray<readonly [string, string]>;

function pageUri(path: string, filters: Filters, pageSize: number, page: number, token?: string): string {
  const search = new URLSearchParams();
  for (const [name, value] of filters) search.append(name, value);
  search.append("PageSize", String(pageSize));
  search.append("Page", String(page));
  if (token !== undefined) search.append("PageToken", token);
  return `${path}?${search.toString()}`;
}

/** The api v2010 envelope: `{<key>: [...], first_page_uri, next_page_uri, uri, page, page_size, start, end, ...}`. */
export function v2010Envelope<T>(key: string, path: string, filters: Filters, paged: Paged<T>, items: unknown[]) {
  const { pageSize, page, pageToken } = paged.query;
  return {
    [key]: items,
    first_page_uri: pageUri(path, filters, pageSize, 0),
    next_page_uri: paged.nextToken === undefined ? null : pageUri(path, filters, pageSize, page + 1, paged.nextToken),
    previous_page_uri: page > 0 ? pageUri(path, filters, pageSize, page - 1) : null,
    uri: pageUri(path, filters, pageSize, page, pageToken),
    page,
    page_size: pageSize,
    start: paged.start,
    end: Math.max(paged.start, paged.start + items.length - 1),
  };
}

/** The v1 envelope: `{<key>: [...], meta: {key, url, first_page_url, next_page_url, ...}}` with absolute URLs. */
export function v1Envelope<T>(
  key: string,
  origin: string,
  path: string,
  filters: Filters,
  paged: Paged<T>,
  items: unknown[],
) {
  const { pageSize, page, pageToken } = paged.query;
  const url = (p: number, token?: string) => origin + pageUri(path, filters, pageSize, p, token);
  return {
    [key]: items,
    meta: {
      page,
      page_size: pageSize,
      first_page_url: url(0),
      previous_page_url: page > 0 ? url(page - 1) : null,
      url: url(page, pageToken),
      next_page_url: paged.nextToken === undefined ? null : url(page + 1, paged.nextToken),
      key,
    },
  };
}
