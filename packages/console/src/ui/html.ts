// htm turns tagged templates into Preact elements: JSX-like markup with no JSX build step.
import htm from 'htm';
import { h } from 'preact';

export const html = htm.bind(h);
