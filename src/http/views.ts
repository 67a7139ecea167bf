import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Express } from "express";
import Handlebars from "handlebars";

type Render = (filePath: string, options: object, callback: (err: unknown, html?: string) => void) => void;

/**
 * Plain Handlebars behind express's view API (express-handlebars needs Node 22). Every page is
 * rendered into layout.hbs as {{{body}}}; templates are compiled once in production.
 */
export function useHandlebars(app: Express, dir: string, cache: boolean): void {
  const compiled = new Map<string, Promise<HandlebarsTemplateDelegate>>();
  const template = (file: string): Promise<HandlebarsTemplateDelegate> => {
    const hit = cache ? compiled.get(file) : undefined;
    if (hit) return hit;
    const loading = readFile(file, "utf8").then((source) => Handlebars.compile(source, { strict: false }));
    if (cache) compiled.set(file, loading);
    return loading;
  };
  const render: Render = (filePath, options, callback) => {
    Promise.all([template(filePath), template(join(dir, "layout.hbs"))])
      .then(([page, layout]) => callback(null, layout({ ...options, body: page(options) })))
      .catch(callback);
  };
  app.engine("hbs", render);
  app.set("view engine", "hbs");
  app.set("views", dir);
}
